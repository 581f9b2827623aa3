"""mirror-fit: train the self-model (forward, then inverse with the forward model as critic).

    mirror-fit DATASET --out models/self_model.pt

Training data are the dataset's samples with a detected face: measured joint positions
(what the face actually did, after the driver's clamping) against observed landmarks. A
seeded share is held out for validation. Next to CKPT it writes CKPT-stem.learning_curve.png,
CKPT-stem.landmark_error.png and CKPT-stem.json (the figures); the last printed line is
that JSON.
"""

import argparse
import json
import pathlib
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from face_common.files import write_json
from face_motor_driver.face_config import (
    ConfigError,
    default_face_config_path,
    load_face_config,
)
from face_msgs import face_layout
from mirror_calibration.dataset import DatasetError, load_dataset
from mirror_calibration.self_model import SelfModel, SelfModelConfig, save_checkpoint

LIP_SLICE = face_layout.LIPS
_GAP_UPPER, _GAP_LOWER = (list(side) for side in zip(*face_layout.INNER_LIP_PAIRS))


def inner_lip_gaps(landmarks):
    """(B, 9) vertical gaps along the inner lip contour (face_layout.INNER_LIP_PAIRS) of
    landmarks (B, P, 3), upper minus lower point's y in the landmarks' own units: where
    the lips part or touch."""
    return landmarks[:, _GAP_UPPER, 1] - landmarks[:, _GAP_LOWER, 1]


@dataclass
class FitOptions:
    forward_steps: int = 3000     # optimiser steps of the forward model
    inverse_steps: int = 3000     # optimiser steps of the inverse model
    batch: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 0.05    # AdamW decoupled weight decay of the forward model
    hidden: int = 192
    layers: int = 3
    critic_weight: float = 1.0    # weight of "forward(inverse(lips)) == lips" in the inverse loss
    joint_weight: float = 0.1     # weight of "inverse(lips) == the joints that showed them"
    gap_weight: float = 0.0       # weight of the inner-lip gaps in the forward model's loss
    validation_fraction: float = 0.1
    seed: int = 0
    eval_every: int = 100         # steps between validation points of the learning curve


@dataclass
class Samples:
    joints: np.ndarray       # (N, A) measured joint positions [rad]
    landmarks: np.ndarray    # (N, P, 3) observed landmarks [eye spans]


def usable_samples(data):
    """The samples a self-model can learn from: a face was seen, joints and points finite."""
    joints = np.where(np.isfinite(data.measured), data.measured, data.commanded)
    keep = (data.detected.astype(bool)
            & np.all(np.isfinite(joints), axis=1)
            & np.all(np.isfinite(data.landmarks), axis=(1, 2)))
    return Samples(joints[keep], data.landmarks[keep])


def split(samples, fraction, seed):
    """(train, validation) Samples, validation a seeded random share of at least one sample."""
    n = len(samples.joints)
    order = np.random.default_rng(seed).permutation(n)
    held = max(1, int(round(n * fraction)))
    val, train = order[:held], order[held:]
    return (Samples(samples.joints[train], samples.landmarks[train]),
            Samples(samples.joints[val], samples.landmarks[val]))


def lip_error_fraction(predicted, target):
    """Per sample: mean lip-point L2 distance / the target's mouth width. (N,) numpy."""
    distance = np.linalg.norm(predicted[:, LIP_SLICE] - target[:, LIP_SLICE], axis=-1)
    return distance.mean(axis=1) / face_layout.mouth_width(target)


def gap_error_fraction(predicted, target):
    """Per sample: mean absolute error of the inner-lip gaps / the target's mouth width."""
    error = np.abs(inner_lip_gaps(predicted) - inner_lip_gaps(target))
    return error.mean(axis=1) / face_layout.mouth_width(target)


def point_error_fraction(predicted, target):
    """Per landmark: mean L2 distance over samples / mean mouth width. (P,) numpy."""
    distance = np.linalg.norm(predicted - target, axis=-1)
    return distance.mean(axis=0) / face_layout.mouth_width(target).mean()


def _tensor(array):
    return torch.as_tensor(np.asarray(array), dtype=torch.float32)


def _predict_forward(model, joints):
    with torch.no_grad():
        return model(_tensor(joints)).double().numpy()


def _model_round_trip(model, samples):
    """forward(inverse(lips)) against the lips, per sample (the critic's view of the inverse)."""
    with torch.no_grad():
        target = _tensor(samples.landmarks)
        lips = model.inverse(model.lips_of(target))
        shown = model(model.full_pose(lips, rest=_tensor(samples.joints)))
    return lip_error_fraction(shown.double().numpy(), samples.landmarks)


def build_model(face_config, meta, train, options):
    lip_names = {a.name for a in face_config.lip_actuators}
    lip_index = tuple(i for i, name in enumerate(meta.actuator_names) if name in lip_names)
    config = SelfModelConfig(actuator_count=len(meta.actuator_names), lip_actuators=lip_index,
                             point_count=meta.point_count,
                             lip_points=(LIP_SLICE.start, LIP_SLICE.stop),
                             hidden=options.hidden, layers=options.layers)
    mean = train.landmarks.mean(axis=0)
    # One scale for every coordinate (the lips' RMS spread), not one per coordinate: errors
    # keep their face-frame proportions, so points that barely move (eyes while the lips
    # babble) cannot turn the observer's jitter into most of the loss.
    scale = float(np.sqrt(np.mean(train.landmarks[:, LIP_SLICE].var(axis=0))))
    std = np.full(mean.shape, max(scale, 1e-4))
    return SelfModel(config, meta.lower, meta.upper, meta.neutral, mean, std)


def _batches(rng, n, batch):
    while True:
        yield rng.integers(0, n, size=min(batch, n))


def train_forward(model, train, val, options, history, progress):
    optimiser = torch.optim.AdamW(model.forward_net.parameters(), lr=options.learning_rate,
                                  weight_decay=options.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, options.forward_steps)
    joints, target = _tensor(train.joints), model.standardise(_tensor(train.landmarks))
    # Lips are what the inverse model needs, so they count twice.
    weight = torch.ones(model.config.point_count, 1)
    weight[LIP_SLICE] = 2.0
    # The inner-lip gaps (standardised, so in units of the lips' spread) also count on
    # their own, gap_weight times: a point error of a few per cent of mouth width is small
    # everywhere except between the lips, where it decides whether they meet.
    gaps = inner_lip_gaps(target)
    rng = np.random.default_rng(options.seed)
    batches = _batches(rng, len(joints), options.batch)
    model.train()
    for step in tqdm(range(1, options.forward_steps + 1), desc='forward model',
                     disable=not progress, file=sys.stderr):
        idx = torch.as_tensor(next(batches))
        predicted = model.forward_standardised(joints[idx])
        loss = (weight * (predicted - target[idx]) ** 2).mean()
        if options.gap_weight:
            loss = loss + options.gap_weight * (
                (inner_lip_gaps(predicted) - gaps[idx]) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % options.eval_every == 0 or step == options.forward_steps:
            model.eval()
            val_error = lip_error_fraction(_predict_forward(model, val.joints), val.landmarks)
            model.train()
            history['forward'].append((step, loss.item(), float(val_error.mean())))
    model.eval()


def train_inverse(model, train, val, options, history, progress):
    for p in model.forward_net.parameters():
        p.requires_grad_(False)  # the forward model is the fixed critic now
    optimiser = torch.optim.Adam(model.inverse_net.parameters(), lr=options.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, options.inverse_steps)
    joints, landmarks = _tensor(train.joints), _tensor(train.landmarks)
    lips_target = model.lips_of(landmarks)
    lips_standardised = model.standardise_lips(lips_target)
    joint_target = model.joints_to_unit(joints)[:, model.lip_index]
    rng = np.random.default_rng(options.seed + 1)
    batches = _batches(rng, len(joints), options.batch)
    model.train()
    for step in tqdm(range(1, options.inverse_steps + 1), desc='inverse model',
                     disable=not progress, file=sys.stderr):
        idx = torch.as_tensor(next(batches))
        pose = model.full_pose(model.inverse(lips_target[idx]), rest=joints[idx])
        shown = model.lips_of(model.forward_standardised(pose))
        critic = ((shown - lips_standardised[idx]) ** 2).mean()
        unit = model.joints_to_unit(pose)[:, model.lip_index]
        supervised = ((unit - joint_target[idx]) ** 2).mean()
        loss = options.critic_weight * critic + options.joint_weight * supervised
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % options.eval_every == 0 or step == options.inverse_steps:
            model.eval()
            history['inverse'].append((step, loss.item(),
                                       float(_model_round_trip(model, val).mean())))
            model.train()
    model.eval()
    for p in model.forward_net.parameters():
        p.requires_grad_(True)


def fit_self_model(data, face_config, options=None, progress=True):
    """Train a SelfModel on BabblingData. Returns (model, report dict, history dict)."""
    options = options or FitOptions()
    samples = usable_samples(data)
    if len(samples.joints) < 20:
        raise DatasetError(f'only {len(samples.joints)} usable samples (face detected, finite '
                           'values); babble at least a few hundred poses before fitting')
    train, val = split(samples, options.validation_fraction, options.seed)
    torch.manual_seed(options.seed)
    model = build_model(face_config, data.meta, train, options)
    history = {'forward': [], 'inverse': []}
    started = time.perf_counter()
    train_forward(model, train, val, options, history, progress)
    train_inverse(model, train, val, options, history, progress)
    seconds = time.perf_counter() - started
    predicted = _predict_forward(model, val.joints)
    mean_predictor = np.broadcast_to(train.landmarks.mean(axis=0), val.landmarks.shape)
    report = {
        'samples_total': int(len(data)),
        'samples_used': int(len(samples.joints)),
        'samples_train': int(len(train.joints)),
        'samples_validation': int(len(val.joints)),
        'fit_seconds': round(seconds, 2),
        'forward_lip_error': float(lip_error_fraction(predicted, val.landmarks).mean()),
        'forward_gap_error': float(gap_error_fraction(predicted, val.landmarks).mean()),
        'gap_weight': options.gap_weight,
        'mean_predictor_lip_error': float(lip_error_fraction(mean_predictor,
                                                             val.landmarks).mean()),
        'model_round_trip_lip_error': float(_model_round_trip(model, val).mean()),
        'per_landmark_error': point_error_fraction(predicted, val.landmarks).round(5).tolist(),
        'validation_seed': options.seed,
        'validation_fraction': options.validation_fraction,
    }
    return model, report, history


def write_plots(prefix, history, report):
    """CKPT-stem.learning_curve.png and CKPT-stem.landmark_error.png next to the checkpoint."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    forward = np.array(history['forward'])
    inverse = np.array(history['inverse'])
    ax.plot(forward[:, 0], forward[:, 2], label='forward: validation lip error')
    if len(inverse):
        ax.plot(forward[-1, 0] + inverse[:, 0], inverse[:, 2],
                label='inverse: forward(inverse(lips)) error')
    ax.axhline(report['mean_predictor_lip_error'], color='grey', ls='--',
               label='mean predictor')
    ax.set_yscale('log')
    ax.set_xlabel('optimiser step (inverse steps follow the forward ones)')
    ax.set_ylabel('lip error / mouth width')
    ax.set_title(f'Self-model learning curve ({report["samples_train"]} training samples)')
    ax.legend()
    fig.tight_layout()
    fig.savefig(f'{prefix}.learning_curve.png', dpi=100)
    plt.close(fig)

    errors = np.array(report['per_landmark_error'])
    fig, ax = plt.subplots(figsize=(10, 4))
    for name, region in face_layout.SUBSET_SLICES.items():
        positions = np.arange(region.start, region.stop)
        ax.bar(positions, errors[region], label=name)
    ax.set_xlabel('landmark (face_subset_v1 order)')
    ax.set_ylabel('forward error / mouth width')
    ax.set_title('Forward model error per landmark (validation)')
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(f'{prefix}.landmark_error.png', dpi=100)
    plt.close(fig)


def parse_args(argv):
    defaults = FitOptions()
    parser = argparse.ArgumentParser(prog='mirror-fit', description=__doc__.split('\n')[0])
    parser.add_argument('dataset', help='babbling dataset directory (from calibration_node)')
    parser.add_argument('--out', required=True, help='checkpoint file to write (.pt)')
    parser.add_argument('--face-config', default=None,
                        help='config/face_motors.yaml of the face (default: the workspace one)')
    parser.add_argument('--forward-steps', type=int, default=defaults.forward_steps)
    parser.add_argument('--inverse-steps', type=int, default=defaults.inverse_steps)
    parser.add_argument('--hidden', type=int, default=defaults.hidden)
    parser.add_argument('--layers', type=int, default=defaults.layers)
    parser.add_argument('--seed', type=int, default=defaults.seed)
    parser.add_argument('--gap-weight', type=float, default=defaults.gap_weight,
                        help='weight of the inner-lip gaps in the forward loss (default '
                        f'{defaults.gap_weight:g}): fits where the lips meet')
    parser.add_argument('--limit', type=int, default=0,
                        help='use only the first N samples of the dataset (0 = all)')
    parser.add_argument('--threads', type=int, default=1,
                        help='CPU threads for torch (1 is fastest on a shared CPU)')
    parser.add_argument('--no-plots', action='store_true')
    args = parser.parse_args(argv)
    for name in ('forward_steps', 'inverse_steps', 'hidden', 'layers', 'threads'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1')
    if not args.gap_weight >= 0:
        parser.error('--gap-weight must be a number >= 0')
    return args


def run_fit(dataset, out, face_config_path=None, options=None, limit=0, plots=True,
            progress=True):
    """Load, fit, save the checkpoint (+ plots and JSON figures); return the report."""
    face_config = load_face_config(face_config_path or default_face_config_path())
    data = load_dataset(dataset)
    if limit:
        data.records = data.records[:limit]
    model, report, history = fit_self_model(data, face_config, options, progress)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report['dataset'] = str(pathlib.Path(dataset).resolve())
    report['limit'] = int(limit)
    save_checkpoint(out, model, data.meta.actuator_names, data.meta.layout,
                    {k: v for k, v in report.items() if k != 'per_landmark_error'})
    prefix = str(out.with_suffix(''))
    if plots:
        write_plots(prefix, history, report)
    write_json(prefix + '.json', report)
    return report


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    options = FitOptions(forward_steps=args.forward_steps, inverse_steps=args.inverse_steps,
                         hidden=args.hidden, layers=args.layers, seed=args.seed,
                         gap_weight=args.gap_weight)
    try:
        report = run_fit(args.dataset, args.out, args.face_config, options, args.limit,
                         plots=not args.no_plots)
    except (DatasetError, ConfigError) as exc:
        print(f'mirror-fit: {exc}', file=sys.stderr)
        return 2
    summary = {k: v for k, v in report.items() if k != 'per_landmark_error'}
    print(f'wrote {args.out}: forward lip error {report["forward_lip_error"]:.4f} of mouth '
          f'width (mean predictor {report["mean_predictor_lip_error"]:.4f}) in '
          f'{report["fit_seconds"]:.1f} s', file=sys.stderr)
    print(json.dumps(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
