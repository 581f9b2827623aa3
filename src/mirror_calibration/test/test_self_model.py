"""Self-model training and checkpoints on a synthetic face.

The face here is a stand-in: a fixed random smooth map from joints to landmarks, written
to a real dataset directory, because the real skin model (face_sim) is hidden from the
learner. The same code is exercised on the simulated head in test_babble_graph.py.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from face_motor_driver.face_config import default_face_config_path, load_face_config
from face_msgs import face_layout
from mirror_calibration.babbling import babble_poses, babbled_actuators
from mirror_calibration.dataset import DatasetMeta, DatasetWriter
from mirror_calibration.fit import (
    FitOptions,
    gap_error_fraction,
    inner_lip_gaps,
    lip_error_fraction,
    run_fit,
)
from mirror_calibration.self_model import LipResponse, SelfModelError, load_checkpoint

FACE = load_face_config(default_face_config_path())
POINTS = len(face_layout.FACE_SUBSET)


def synthetic_landmarks(joints):
    """A smooth made-up face: lips follow the jaw/lip joints, the rest follows the others."""
    rng = np.random.default_rng(42)
    base = rng.normal(scale=0.3, size=(POINTS, 3))
    base[face_layout.MOUTH_CORNER_RIGHT] = (-0.4, -1.0, 0.0)
    base[face_layout.MOUTH_CORNER_LEFT] = (0.4, -1.0, 0.0)
    lip = np.array([i for i, a in enumerate(FACE.actuators) if a.group in ('jaw', 'lips')])
    gain = rng.normal(scale=0.08, size=(len(lip), POINTS * 3))
    mixing = rng.normal(size=(len(lip), len(lip)))
    lips_motion = np.tanh(joints[:, lip] @ mixing) @ gain
    return base + lips_motion.reshape(-1, POINTS, 3)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    directory = tmp_path_factory.mktemp('babble')
    meta = DatasetMeta.from_face_config(FACE, face_layout.LAYOUT_NAME, POINTS)
    joints = babble_poses(FACE, babbled_actuators(FACE, ['jaw', 'lips']), 3, 0, 600)
    landmarks = synthetic_landmarks(joints)
    with DatasetWriter(directory, meta) as writer:
        for i, (q, lm) in enumerate(zip(joints, landmarks)):
            writer.append(index=i, seed=3, detected=i % 50 != 7, command_time=float(i),
                          image_time=float(i), confidence=0.9, face_size_px=90.0,
                          commanded=q, measured=q, landmarks=lm)
    return directory


@pytest.fixture(scope='module')
def fitted(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp('model') / 'self_model.pt'
    torch.set_num_threads(1)
    report = run_fit(dataset, out, options=FitOptions(forward_steps=600, inverse_steps=400),
                     progress=False)
    return out, report


def test_forward_model_beats_mean_predictor(fitted):
    _, report = fitted
    assert report['samples_used'] == 600 - 12, 'frames without a face are not learned from'
    assert report['forward_lip_error'] < 0.25 * report['mean_predictor_lip_error']
    assert report['model_round_trip_lip_error'] < 0.5 * report['mean_predictor_lip_error']


def test_checkpoint_describes_itself_and_writes_plots(fitted):
    out, report = fitted
    model, checkpoint = load_checkpoint(out)
    assert checkpoint['actuator_names'] == list(FACE.names)
    assert checkpoint['layout'] == face_layout.LAYOUT_NAME
    assert checkpoint['metadata']['samples_train'] == report['samples_train']
    for suffix in ('.learning_curve.png', '.landmark_error.png', '.json'):
        assert out.with_suffix('').with_name(out.stem + suffix).stat().st_size > 1000 \
            or suffix == '.json'
    figures = json.loads(out.with_suffix('.json').read_text())
    assert len(figures['per_landmark_error']) == POINTS


def test_inverse_reaches_targets_of_the_forward_model(fitted):
    model, _ = load_checkpoint(fitted[0])
    joints = babble_poses(FACE, babbled_actuators(FACE, ['jaw', 'lips']), 99, 0, 50)
    target = synthetic_landmarks(joints)
    with torch.no_grad():
        lips = model.inverse(model.lips_of(torch.as_tensor(target, dtype=torch.float32)))
        pose = model.full_pose(lips).double().numpy()
    # Shown on the (synthetic) face itself, not on the model: a real round trip.
    error = lip_error_fraction(synthetic_landmarks(pose), target).mean()
    spread = lip_error_fraction(np.broadcast_to(target.mean(axis=0), target.shape), target)
    assert error < 0.35 * spread.mean()


def test_lip_response_is_the_forward_model_and_its_jacobian(fitted):
    """LipResponse (forward and forward-mode Jacobian written out for lip-only poses, with a
    readout folded in) agrees with the model run through autograd."""
    model, _ = load_checkpoint(fitted[0])
    generator = torch.Generator().manual_seed(5)
    readout = torch.randn(50, face_layout.LIP_POINT_COUNT * 3, generator=generator)
    response = LipResponse(model, readout)
    lip = model.lip_index
    unit = torch.rand(7, len(lip), generator=generator) * 2 - 1
    target = torch.randn(7, face_layout.LIP_POINT_COUNT, 3, generator=generator)
    lower, upper = model.lower[lip], model.upper[lip]

    def miss_of(unit_form):  # readout @ (standardised shown lips - standardised target)
        pose = model.full_pose(lower + (unit_form + 1) * (upper - lower) / 2)
        shown = model.standardise_lips(model.lips_of(model(pose))).flatten(1)
        return (shown - model.standardise_lips(target).flatten(1)) @ readout.T

    with torch.inference_mode():
        offset = response.offset(target)
        miss, jacobian = response.linearise(unit, offset)
        lips = response.lips(unit)
        alone = response.miss(unit, offset)
    with torch.no_grad():
        expected_miss = miss_of(unit)
        expected_lips = expected_miss + model.standardise_lips(target).flatten(1) @ readout.T
    # d miss / d unit per frame, (7, L, R), from autograd
    full = torch.autograd.functional.jacobian(miss_of, unit)  # (7, R, 7, L)
    expected = torch.stack([full[i, :, i] for i in range(len(unit))]).transpose(1, 2)
    scale = float(expected_miss.abs().max())
    torch.testing.assert_close(miss, expected_miss, atol=1e-5 * scale, rtol=1e-4)
    torch.testing.assert_close(alone, expected_miss, atol=1e-5 * scale, rtol=1e-4)
    torch.testing.assert_close(lips, expected_lips, atol=1e-5 * scale, rtol=1e-4)
    torch.testing.assert_close(jacobian, expected, atol=1e-4 * float(expected.abs().max()),
                               rtol=1e-3)
    assert float(jacobian.abs().max()) > 0


def test_inverse_never_leaves_actuator_limits(fitted):
    model, _ = load_checkpoint(fitted[0])
    wild = torch.randn(200, face_layout.LIP_POINT_COUNT, 3) * 50
    with torch.no_grad():
        lips = model.inverse(wild).numpy()
    lip_actuators = [FACE.actuators[i] for i in model.config.lip_actuators]
    assert [a.name for a in lip_actuators] == [a.name for a in FACE.lip_actuators]
    lower = np.array([a.min for a in lip_actuators])
    upper = np.array([a.max for a in lip_actuators])
    assert np.all(lips >= lower - 1e-6) and np.all(lips <= upper + 1e-6)


def test_missing_or_corrupt_checkpoint_is_a_clear_error(fitted, tmp_path):
    with pytest.raises(SelfModelError, match='mirror-fit'):
        load_checkpoint(tmp_path / 'none.pt')
    truncated = tmp_path / 'truncated.pt'
    truncated.write_bytes(fitted[0].read_bytes()[:5000])
    with pytest.raises(SelfModelError, match='corrupt'):
        load_checkpoint(truncated)
    foreign = tmp_path / 'foreign.pt'
    torch.save({'weights': torch.zeros(3)}, foreign)
    with pytest.raises(SelfModelError, match='not a mirror_self_model_v1'):
        load_checkpoint(foreign)
    broken = tmp_path / 'broken.pt'
    checkpoint = torch.load(fitted[0], weights_only=True)
    del checkpoint['state_dict']['landmark_std']
    torch.save(checkpoint, broken)
    with pytest.raises(SelfModelError, match='damaged'):
        load_checkpoint(broken)


def test_fit_cli_reports_missing_dataset(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'mirror_calibration.fit',
                             str(tmp_path / 'nothing'), '--out', str(tmp_path / 'm.pt')],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert 'does not exist' in result.stderr


def test_inner_lip_gaps_are_the_facing_pairs_vertical_distances():
    landmarks = np.zeros((2, POINTS, 3))
    landmarks[:, face_layout.MOUTH_CORNER_RIGHT, 0] = -0.4
    landmarks[:, face_layout.MOUTH_CORNER_LEFT, 0] = 0.4
    for k, (upper, lower) in enumerate(face_layout.INNER_LIP_PAIRS):
        landmarks[0, upper, 1] = 0.1 * k
        landmarks[0, lower, 1] = -0.05
        landmarks[1, upper, 1] = landmarks[1, lower, 1] = 0.3   # touching all along
    gaps = inner_lip_gaps(landmarks)
    assert gaps.shape == (2, 9)
    np.testing.assert_allclose(gaps[0], 0.1 * np.arange(9) + 0.05)
    np.testing.assert_allclose(gaps[1], 0.0)
    torch_gaps = inner_lip_gaps(torch.as_tensor(landmarks))
    np.testing.assert_allclose(torch_gaps.numpy(), gaps)
    # a gap off by d reads d / mouth width, whichever side moved
    moved = landmarks.copy()
    moved[:, face_layout.INNER_LIP_PAIRS[4][1], 1] -= 0.08
    np.testing.assert_allclose(face_layout.mouth_width(landmarks), 0.8)
    np.testing.assert_allclose(gap_error_fraction(moved, landmarks), 0.08 / 9 / 0.8)


def test_gap_weight_is_fitted_reported_and_validated(dataset, fitted, tmp_path):
    out = tmp_path / 'gap.pt'
    report = run_fit(dataset, out, options=FitOptions(forward_steps=600, inverse_steps=50,
                                                      gap_weight=10.0), progress=False)
    assert report['gap_weight'] == 10.0 and fitted[1]['gap_weight'] == 0.0
    assert 0 < report['forward_gap_error'] < 0.25 * report['mean_predictor_lip_error']
    result = subprocess.run([sys.executable, '-m', 'mirror_calibration.fit', str(dataset),
                             '--out', str(tmp_path / 'm.pt'), '--gap-weight', 'nan'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and '--gap-weight must be a number >= 0' in result.stderr


def _cli(name, *args):
    script = pathlib.Path(sys.executable).parent / name
    return subprocess.run([str(script), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_eval_cli_forward_figures(fitted):
    result = _cli('mirror-eval', fitted[0], '--targets', '0')
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures['heldout_samples'] == fitted[1]['samples_validation']
    assert figures['forward_lip_error'] == pytest.approx(fitted[1]['forward_lip_error'],
                                                         rel=1e-3)
    assert figures['forward_lip_error'] < 0.25 * figures['mean_predictor_lip_error']


def test_eval_cli_rejects_corrupt_checkpoint(fitted, tmp_path):
    corrupt = tmp_path / 'corrupt.pt'
    corrupt.write_bytes(b'not a checkpoint' * 100)
    result = _cli('mirror-eval', corrupt, '--targets', '0')
    assert result.returncode == 2
    assert 'corrupt' in result.stderr and 'mirror-fit' in result.stderr
    result = _cli('mirror-eval', tmp_path / 'missing.pt', '--targets', '0')
    assert result.returncode == 2 and 'no self-model' in result.stderr
