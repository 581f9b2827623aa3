"""Retargeting human lips to the robot's reachable lips and on to lip actuator positions."""

import numpy as np
import pytest

from face_motor_driver.face_config import default_face_config_path, load_face_config
from face_msgs import face_layout
from lip_policy import corpus, metrics
from lip_policy.retarget import LipsToActuators, RetargetError, Retargeting, rest_mouth
from lip_policy.testing.small_models import stand_in_landmarks

FACE = load_face_config(default_face_config_path())



@pytest.fixture(scope='module')
def human(models):
    return np.concatenate([c.lips[c.valid] for c in corpus.load_corpus(models.corpus)])


@pytest.fixture(scope='module')
def chain(models):
    return LipsToActuators.load(models.retarget, models.self_model)


def test_rest_mouth_maps_to_the_robot_rest_and_open_mouth_opens_the_jaw(human, chain):
    retarget = chain.retargeting
    np.testing.assert_allclose(retarget.robot_coefficients(rest_mouth(human)),
                               np.clip(retarget.robot_rest, retarget.lower, retarget.upper))
    opening = metrics.opening(human)
    wide_open = human[opening > np.quantile(opening, 0.95)]
    closed = human[opening < np.quantile(opening, 0.05)]
    jaw = list(chain.names).index('jaw_open')
    assert chain(wide_open)[:, jaw].mean() > chain(closed)[:, jaw].mean() + 0.05
    robot_open = metrics.opening(retarget(wide_open)).mean()
    robot_closed = metrics.opening(retarget(closed)).mean()
    assert robot_open > robot_closed + 0.02


def test_retargeted_lips_stay_where_the_robot_can_go(human, chain):
    retarget = chain.retargeting
    wild = human + np.random.default_rng(0).normal(scale=0.5, size=human.shape)
    for lips in (human, wild):
        c = retarget.robot_coefficients(lips)
        assert np.all(c >= retarget.lower - 1e-12) and np.all(c <= retarget.upper + 1e-12)
        positions = chain(lips)
        assert np.all(positions >= chain.lower) and np.all(positions <= chain.upper)
    assert chain.names == tuple(a.name for a in FACE.lip_actuators)


def test_the_face_shows_the_retargeted_lips(human, chain):
    """Human lips -> robot lips -> inverse self-model -> the stand-in face shows them."""
    sample = human[::7]
    robot_lips = chain.retargeting(sample)
    pose = np.tile([a.neutral for a in FACE.actuators], (len(sample), 1))
    lip_index = [FACE.names.index(n) for n in chain.names]
    pose[:, lip_index] = chain(sample)
    shown = stand_in_landmarks(FACE, pose)[:, face_layout.LIPS]
    error = np.linalg.norm(shown - robot_lips, axis=-1).mean(axis=1)
    spread = np.linalg.norm(robot_lips - robot_lips.mean(axis=0), axis=-1).mean(axis=1)
    assert error.mean() < 0.5 * spread.mean()
    assert np.corrcoef(metrics.opening(shown), metrics.opening(robot_lips))[0, 1] > 0.8


def test_save_load_round_trip_and_bad_files(chain, tmp_path):
    path = tmp_path / 'r.npz'
    chain.retargeting.save(path)
    loaded = Retargeting.load(path)
    for name in ('human_rest', 'components', 'gain', 'lower', 'upper'):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(chain.retargeting, name))
    with pytest.raises(RetargetError, match='does not exist'):
        Retargeting.load(tmp_path / 'missing.npz')
    (tmp_path / 'junk.npz').write_bytes(b'PK\x03\x04 not a zip at all')
    with pytest.raises(RetargetError, match='not a readable'):
        Retargeting.load(tmp_path / 'junk.npz')
    good = dict(np.load(path))
    np.savez(tmp_path / 'other.npz', **(good | {'format': np.array('something/else')}))
    with pytest.raises(RetargetError, match='not lip_policy.retarget'):
        Retargeting.load(tmp_path / 'other.npz')
    np.savez(tmp_path / 'short.npz', **(good | {'lower': good['lower'][:2]}))
    with pytest.raises(RetargetError, match='damaged'):
        Retargeting.load(tmp_path / 'short.npz')
    np.savez(tmp_path / 'nan.npz', **(good | {'gain': good['gain'] * np.nan}))
    with pytest.raises(RetargetError, match='non-finite'):
        Retargeting.load(tmp_path / 'nan.npz')


def test_fit_needs_enough_frames(human):
    with pytest.raises(RetargetError, match='at least 20'):
        Retargeting.fit(human[:5], human)
    with pytest.raises(RetargetError, match='shape'):
        Retargeting.fit(human[:, :10], human)


def test_fit_cli_writes_the_file_and_its_plot(models, tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / 'retarget.npz'
    command = [sys.executable, '-m', 'lip_policy.retarget', '--corpus', str(models.corpus),
               '--dataset', str(models.dataset), '--out', str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures['directions'] == len(Retargeting.load(out).gain)
    assert (tmp_path / 'retarget.png').stat().st_size > 10_000
    command[command.index('--dataset') + 1] = str(tmp_path / 'no_dataset')
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and 'does not exist' in result.stderr


def test_refinement_reaches_for_the_inner_lip_gaps_and_never_makes_a_frame_worse(chain,
                                                                                  models):
    """From a poor first guess (every frame at neutral), the refinement with the gap term
    brings the inner-lip gaps nearer the wanted ones than the point distance alone does;
    every frame's error ends at or below its guess's, each step's too; from the exact answer
    it stays there (each frame keeps the best positions it saw)."""
    import torch

    model = chain.model
    rng = np.random.default_rng(2)
    lower, upper = torch.as_tensor(chain.lower), torch.as_tensor(chain.upper)
    exact = (lower + (upper - lower) * torch.as_tensor(rng.uniform(0.1, 0.9, (60, len(
        chain.names))))).float()
    pairs = np.array(face_layout.INNER_LIP_PAIRS) - face_layout.LIPS.start

    def lips(positions):
        with torch.no_grad():
            return model.lips_of(model(model.full_pose(positions)))

    def gaps(shown):
        return shown[:, pairs[:, 0], 1] - shown[:, pairs[:, 1], 1]

    target = lips(exact)
    start = torch.as_tensor(chain.neutral, dtype=torch.float32).expand(len(exact), -1)
    no_gaps = type('PointsOnly', (LipsToActuators,), {'GAP_WEIGHT': 0.0}).load(
        models.retarget, models.self_model)
    errors = {}
    for refiner in (no_gaps, chain):
        previous = refiner.error(target, start)
        for steps in (1, 2, 3):
            refined = refiner.refine(target, start.clone(), steps)
            error = refiner.error(target, refined)
            assert bool((error <= previous + 1e-4 * previous.abs().max()).all())
            previous = error
        assert float(error.mean()) < 0.5 * float(refiner.error(target, start).mean())
        np.testing.assert_allclose(refiner.refine(target, exact.clone()), exact, atol=1e-5)
        errors[refiner.GAP_WEIGHT] = float((gaps(lips(refined)) - gaps(target)).abs().mean())
    untouched = float((gaps(lips(start)) - gaps(target)).abs().mean())
    assert errors[LipsToActuators.GAP_WEIGHT] < errors[0.0] < untouched


def test_inverse_network_alone_and_refined(chain):
    """refine_steps=0 gives the self-model's inverse network's answer; the default refines
    it, never to a larger error, and a batch gives each frame what it gets alone."""
    import torch

    model = chain.model
    rng = np.random.default_rng(3)
    lower, upper = torch.as_tensor(chain.lower), torch.as_tensor(chain.upper)
    pose = (lower + (upper - lower) * torch.as_tensor(rng.uniform(0, 1, (40, len(
        chain.names))))).float()
    with torch.no_grad():
        target = model.lips_of(model(model.full_pose(pose)))
        network = model.inverse(target)
    plain = chain.robot_lips_to_actuators(target.numpy(), refine_steps=0)
    np.testing.assert_allclose(plain, network.double().numpy(), atol=1e-5)
    refined = chain.robot_lips_to_actuators(target.numpy())
    guess_error = chain.error(target, network)
    refined_error = chain.error(target, torch.as_tensor(refined, dtype=torch.float32))
    assert bool((refined_error <= guess_error + 1e-4 * guess_error.abs().max()).all())
    assert float(refined_error.mean()) < float(guess_error.mean())
    one_by_one = np.concatenate([chain.robot_lips_to_actuators(target[i:i + 1].numpy())
                                 for i in range(len(target))])
    np.testing.assert_allclose(one_by_one, refined, atol=1e-4)
