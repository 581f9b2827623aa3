"""mirror-eval: how well the self-model knows the face.

    mirror-eval CKPT [--heldout DATASET] [--targets 40] [--graph]

1. Forward error on held-out babbling: the checkpoint's own validation samples (its
   dataset, seed and share are in its metadata), or every sample of --heldout.
2. Inverse round trip through the real loop: held-out lip landmarks -> inverse model ->
   FaceCommand -> driver (+ emulated bus) -> face_sim -> camera image -> observer ->
   observed lips, compared with the target. Errors are mean lip-landmark L2 distance as a
   fraction of the target's mouth width. The face at neutral is the do-nothing baseline.

The graph must be running (or pass --graph to start the simulated one). The last printed
line is one JSON object.
"""

import argparse
import json
import sys
import threading

import numpy as np
import rclpy
import torch
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from tqdm import tqdm

from face_common.node_processes import NodeStartError
from face_motor_driver.face_config import default_face_config_path, load_face_config
from mirror_calibration.babbling import transition_time
from mirror_calibration.dataset import DatasetError, load_dataset
from mirror_calibration.face_probe import FaceProbe, ProbeError
from mirror_calibration.fit import Samples, lip_error_fraction, split, usable_samples
from mirror_calibration.node_graph import mirror_graph
from mirror_calibration.self_model import SelfModelError, load_checkpoint, require_actuators


def heldout_samples(checkpoint, heldout=None):
    """Samples the model never trained on: --heldout, or the checkpoint's validation split."""
    if heldout is not None:
        return usable_samples(load_dataset(heldout))
    meta = checkpoint['metadata']
    try:
        data = load_dataset(meta['dataset'])
    except KeyError as exc:
        raise DatasetError('the checkpoint does not say which dataset it was fitted on; '
                           'pass --heldout DATASET') from exc
    if meta.get('limit'):
        data.records = data.records[:meta['limit']]
    _, validation = split(usable_samples(data), meta['validation_fraction'],
                          meta['validation_seed'])
    return validation


def forward_errors(model, samples):
    """Per-sample forward lip error of the model on samples (N,) [mouth widths]."""
    with torch.no_grad():
        predicted = model(torch.as_tensor(samples.joints, dtype=torch.float32))
    return lip_error_fraction(predicted.double().numpy(), samples.landmarks)


def inverse_poses(model, landmarks):
    """Full joint poses (N, A) [rad] the inverse model picks for the lips of landmarks."""
    with torch.no_grad():
        lips = model.inverse(model.lips_of(torch.as_tensor(landmarks, dtype=torch.float32)))
        return model.full_pose(lips).double().numpy()


class LoopRunner:
    """A node with a FaceProbe, spun on background threads while the caller poses the face."""

    def __init__(self, face_config, transition=0.3, settle_timeout=1.0, frame_timeout=3.0):
        self.face = face_config
        self.node = Node('mirror_eval')
        self.probe = FaceProbe(self.node, face_config, 'face/expression_command', 50.0,
                               settle_window=0.06, settle_tolerance=0.003, frame_delay=0.03)
        self.transition, self.settle_timeout = transition, settle_timeout
        self.frame_timeout = frame_timeout
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()
        self.current = None

    def show(self, pose):
        """Pose the face and return what the camera saw (an Observed)."""
        if self.current is None:
            self.current = self.probe.wait_for_mirror()
        if self.current is None or not np.all(np.isfinite(self.current)):
            self.current = np.array([a.neutral for a in self.face.actuators])
        self.probe.move(self.current, pose,
                        transition_time(self.face, self.current, pose, self.transition))
        observed = self.probe.hold_and_observe(pose, self.settle_timeout, self.frame_timeout)
        self.current = pose
        return observed

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self._thread.join(timeout=5)


def roundtrip(runner, model, targets, progress=True):
    """Round-trip errors (N,) [mouth widths] of target landmarks through the real loop,
    NaN where the camera saw no face; plus the error of the neutral face (N,)."""
    poses = inverse_poses(model, targets)
    neutral = runner.show(model.neutral.double().numpy())
    errors = np.full(len(targets), np.nan)
    for i in tqdm(range(len(targets)), desc='round trip', disable=not progress,
                  file=sys.stderr):
        observed = runner.show(poses[i])
        if observed.detected:
            errors[i] = lip_error_fraction(observed.points[None], targets[i:i + 1])[0]
    baseline = (lip_error_fraction(np.broadcast_to(neutral.points, targets.shape), targets)
                if neutral.detected else np.full(len(targets), np.nan))
    return errors, baseline


def summarise(forward, roundtrip_errors, neutral_errors, mean_predictor):
    seen = roundtrip_errors[np.isfinite(roundtrip_errors)]
    figures = {
        'heldout_samples': int(len(forward)),
        'forward_lip_error': round(float(np.mean(forward)), 5),
        'mean_predictor_lip_error': round(float(mean_predictor), 5),
    }
    if len(roundtrip_errors):
        figures.update({
            'roundtrip_targets': int(len(roundtrip_errors)),
            'roundtrip_frames_without_face': int(len(roundtrip_errors) - len(seen)),
            'roundtrip_lip_error': round(float(np.mean(seen)), 5) if len(seen) else None,
            'roundtrip_lip_error_median': (round(float(np.median(seen)), 5)
                                           if len(seen) else None),
            'roundtrip_lip_error_p90': (round(float(np.percentile(seen, 90)), 5)
                                        if len(seen) else None),
            'neutral_face_lip_error': round(float(np.nanmean(neutral_errors)), 5),
        })
    return figures


def evaluate(checkpoint_path, heldout=None, targets=40, run_loop=True, progress=True):
    """All figures of mirror-eval as a dict (rclpy must be initialised if run_loop)."""
    model, checkpoint = load_checkpoint(checkpoint_path)
    samples = heldout_samples(checkpoint, heldout)
    if len(samples.joints) == 0:
        raise DatasetError('no held-out samples with a detected face to evaluate on')
    forward = forward_errors(model, samples)
    mean_face = samples.landmarks.mean(axis=0)
    mean_predictor = lip_error_fraction(np.broadcast_to(mean_face, samples.landmarks.shape),
                                        samples.landmarks).mean()
    roundtrip_errors = neutral_errors = np.zeros(0)
    if run_loop and targets > 0:
        face = load_face_config(default_face_config_path())
        require_actuators(checkpoint, face.names)
        chosen = Samples(samples.joints[:targets], samples.landmarks[:targets])
        runner = LoopRunner(face)
        try:
            roundtrip_errors, neutral_errors = roundtrip(runner, model, chosen.landmarks,
                                                         progress)
        finally:
            runner.close()
    return summarise(forward, roundtrip_errors, neutral_errors, mean_predictor)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='mirror-eval', description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='self-model checkpoint from mirror-fit')
    parser.add_argument('--heldout', default=None,
                        help='dataset of held-out babbling (default: the checkpoint\'s '
                        'validation samples)')
    parser.add_argument('--targets', type=int, default=40,
                        help='held-out targets sent round the real loop (0 = forward only)')
    parser.add_argument('--graph', action='store_true',
                        help='start the simulated graph (driver, face_sim, observer) for the '
                        'round trip')
    parser.add_argument('--threads', type=int, default=1,
                        help='CPU threads for torch (1 is fastest on a shared CPU)')
    args = parser.parse_args(argv)
    if args.targets < 0:
        parser.error('--targets must be >= 0')
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rclpy.init()
    try:
        if args.graph and args.targets:
            with mirror_graph(with_calibration=False):
                figures = evaluate(args.checkpoint, args.heldout, args.targets)
        else:
            figures = evaluate(args.checkpoint, args.heldout, args.targets)
    except (SelfModelError, DatasetError, ProbeError, NodeStartError) as exc:
        print(f'mirror-eval: {exc}', file=sys.stderr)
        return 2
    finally:
        rclpy.try_shutdown()
    print(json.dumps(figures))
    return 0


if __name__ == '__main__':
    sys.exit(main())
