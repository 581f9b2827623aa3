"""Benchmark of the self-model: learning curve against the number of babbling samples.

1. Babbling through the real node graph (driver on the emulated bus, face_sim, observer,
   calibration_node), once: max(--sizes) training samples plus --heldout more, cached in
   --cache (the dataset is append-only, so an interrupted run resumes where it stopped).
2. For each size N: mirror-fit on the first N samples (fit time measured), forward error on
   the held-out tail, and the inverse round trip through the same real loop on --targets
   held-out lip targets (target lips -> inverse -> FaceCommand -> driver -> face_sim ->
   observer -> compare), as a fraction of mouth width.

Target (issue 5): round-trip lip error <= 3% of mouth width with <= 3000 samples; each fit
under 2 minutes on this CPU. Plot: CACHE/learning_curve.png. The last line is one JSON
object with roundtrip_error_at and fit_seconds (both keyed by sample count).

babble_samples_per_s is the babbling rate through that graph (samples per second between
the first and the last sample of the collection; null when the cache already held every
sample). --rate-only measures just that, on --rate-samples fresh samples in a temporary
dataset (a few warm-up samples first), and skips fitting. Every JSON line carries `machine`
(bench/machine.py: CPU model, load before the run, a reference workload time), printed first.

Usage: .venv/bin/python bench/self_model.py [--sizes 500 1000 2000 4000] [--targets 40]
       .venv/bin/python bench/self_model.py --rate-only [--rate-samples 60]
"""

import argparse
import json
import pathlib
import sys
import tempfile
import time

import numpy as np
import rclpy
import torch
from machine import machine_report  # bench/ is on sys.path when run as a script
from tqdm import tqdm

from face_common.time import stamp_seconds
from face_motor_driver.face_config import default_face_config_path, load_face_config
from mirror_calibration.babble_client import run_babble
from mirror_calibration.dataset import DatasetError, load_dataset
from mirror_calibration.evaluate import LoopRunner, forward_errors, roundtrip
from mirror_calibration.fit import FitOptions, Samples, run_fit, usable_samples
from mirror_calibration.node_graph import mirror_graph
from mirror_calibration.self_model import load_checkpoint

ROOT = pathlib.Path(__file__).resolve().parents[1]
TARGET_ERROR, TARGET_SAMPLES, TARGET_FIT_SECONDS = 0.03, 3000, 120.0
SEED = 0
GROUPS = ('jaw', 'lips')
# face_sim's free-running rate while babbling [Hz]: each sample's frame is asked for on
# camera/trigger once the joints settled; the free-running frames only show a skipped frame
# up (its pose is babbled again). At 30 Hz the observer ran MediaPipe on 30 frames a second
# to use 3 of them, and on 2 shared cores that starved the rest of the graph.
BABBLE_CAMERA_RATE = 10.0


def _calibration(transition):
    return {'transition_time': transition, 'settle_window': 0.04}


def _babble_camera(face_sim):
    return {**face_sim, 'rate_hz': BABBLE_CAMERA_RATE}


def _babble(dataset, total, bar, written=None):
    """Babble into dataset until it holds total samples; (result, samples per second).
    written: a list to append (time.time(), samples_total) to at every feedback."""
    stamps = []

    def progress(feedback):
        stamps.append((time.monotonic(), feedback.samples_total))
        if written is not None:
            written.append((time.time(), feedback.samples_total))
        bar.n = feedback.samples_total
        bar.refresh()

    result = run_babble(None, dataset, total, SEED, GROUPS, on_feedback=progress)
    if not result.success:
        raise RuntimeError(f'babbling failed: {result.message}')
    # From the first sample's feedback on: graph start-up and discovery do not count.
    if len(stamps) < 2:
        return result, None
    (t0, n0), (t1, n1) = stamps[0], stamps[-1]
    return result, (n1 - n0) / (t1 - t0)


def collect(cache, total, transition, face_sim):
    """Babble until the cached dataset holds total samples (resumes a partial one).

    Returns (dataset, collection seconds, samples per second or None)."""
    dataset = cache / 'babble'
    try:
        have = len(load_dataset(dataset))
    except DatasetError:
        have = 0
    if have >= total:
        print(f'using {have} cached babbling samples in {dataset}', file=sys.stderr)
        return dataset, 0.0, None
    print(f'babbling {total - have} more samples into {dataset}', file=sys.stderr)
    started = time.perf_counter()
    bar = tqdm(total=total, initial=have, desc='babbling', unit='sample', file=sys.stderr)
    try:
        with mirror_graph(calibration=_calibration(transition),
                          face_sim=_babble_camera(face_sim)):
            _, rate = _babble(dataset, total, bar)
    finally:
        bar.close()
    return dataset, time.perf_counter() - started, rate


def babble_rate(samples, transition, face_sim, warm_up=5, stages=False):
    """Babbling samples per second through the real graph, on a throw-away dataset; with
    stages also the per-stage times of each sample (stage_times), else None."""
    with tempfile.TemporaryDirectory() as directory:
        dataset = pathlib.Path(directory) / 'babble'
        bar = tqdm(total=warm_up + samples, desc='babbling', unit='sample', file=sys.stderr)
        recorder = StageRecorder() if stages else None
        written = []
        try:
            with mirror_graph(calibration=_calibration(transition),
                              face_sim=_babble_camera(face_sim)):
                _babble(dataset, warm_up, bar)
                _, rate = _babble(dataset, warm_up + samples, bar, written)
        finally:
            bar.close()
            if recorder is not None:
                recorder.close()
        times = stage_times(recorder, load_dataset(dataset), written, warm_up) \
            if stages else None
    return rate, times


class StageRecorder:
    """Every calibration command, joint state, frame request, image and landmarks message
    of a babbling session with its arrival time (time.time()), on its own thread."""

    def __init__(self):
        import threading

        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Header

        from face_common.qos import COMMAND_QOS, TRIGGER_QOS, landmark_reader_qos
        from face_msgs.msg import FaceCommand, FaceLandmarks

        self.commands, self.joints, self.triggers = [], [], []
        self.images, self.landmarks = [], []
        self.node = Node('babble_stage_recorder')
        subscribe = self.node.create_subscription
        subscribe(FaceCommand, 'face/expression_command', self._on_command, COMMAND_QOS)
        subscribe(JointState, 'face/joint_states', self._on_joints, qos_profile_sensor_data)
        subscribe(Header, 'camera/trigger', lambda m: self.triggers.append(
            (time.time(), stamp_seconds(m.stamp))), TRIGGER_QOS)
        subscribe(Image, 'camera/image_raw', lambda m: self.images.append(
            (time.time(), stamp_seconds(m.header.stamp))), qos_profile_sensor_data)
        subscribe(FaceLandmarks, 'face/landmarks', lambda m: self.landmarks.append(
            (time.time(), stamp_seconds(m.header.stamp))), landmark_reader_qos(100))
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_command(self, msg):
        self.commands.append((stamp_seconds(msg.header.stamp), np.array(msg.position)))

    def _on_joints(self, msg):
        self.joints.append((stamp_seconds(msg.header.stamp), np.array(msg.position)))

    def close(self):
        self.executor.shutdown()
        self.thread.join()
        self.node.destroy_node()


STAGES = (
    ('move', 'first command of the move -> its last (the goal) published'),
    ('servo_tail', 'last move command -> first joint state of the still window'),
    ('settle_confirm', 'still window starts -> frame requested (settle confirmed)'),
    ('frame', 'frame requested -> the image arrives (render + transport; with '
              'frame_overlap during the next move)'),
    ('next_move', 'image arrives -> the next move\'s first command (< 0: it came first)'),
    ('detect', 'image arrives -> its landmarks arrive (overlaps the next move)'),
    ('store', 'landmarks arrive -> the sample\'s feedback (written)'),
    ('cycle', 'first command of a move -> first command of the next'),
)


def stage_times(recorder, data, written, skip):
    """Median [ms] of each of STAGES over the samples after the first skip (the recorder's
    view: message stamps where they say when, else arrival times)."""
    commands = recorder.commands
    stamps = np.array([t for t, _ in commands])
    positions = [p for _, p in commands]
    triggers = dict((round(s, 6), t) for t, s in recorder.triggers)
    image_at = dict((s, t) for t, s in recorder.images)
    marks_at = dict((s, t) for t, s in recorder.landmarks)
    fed = dict((n, t) for t, n in written)
    per = {name: [] for name, _ in STAGES}
    same = [False] + [len(a) == len(b) and np.allclose(a, b, atol=1e-12)
                      for a, b in zip(positions, positions[1:])]   # holding the pose
    goal_at, first_of_move = [], []   # per sample: its move's last and first command
    for k in range(len(data)):
        # the last time the commands reached the pose before it settled (a pose babbled
        # again reaches it twice), and the move there: back to the hold before it
        pose = data.commanded[k]
        at_goal = [i for i, p in enumerate(positions) if stamps[i] <= data.command_time[k]
                   and not same[i] and len(p) == len(pose) and np.allclose(p, pose, atol=1e-9)]
        goal_at.append(at_goal[-1] if at_goal else None)
        start = goal_at[-1]
        while start is not None and start > 0 and not same[start - 1]:
            start -= 1
        first_of_move.append(start)
    for k in range(max(skip, 1), len(data) - 1):
        if first_of_move[k] is None or first_of_move[k + 1] is None:
            continue
        start, end = stamps[first_of_move[k]], stamps[goal_at[k]]
        still, image = data.command_time[k], data.image_time[k]
        asked = triggers.get(round(still + 0.03, 6))   # frame_delay
        asked = min((t for t, s in recorder.triggers if s > still), default=None) \
            if asked is None else asked
        arrived, marked = image_at.get(image), marks_at.get(image)
        stored = fed.get(k + 1)
        following = stamps[first_of_move[k + 1]]
        values = {'move': end - start, 'servo_tail': still - end,
                  'settle_confirm': None if asked is None else asked - still,
                  'frame': None if asked is None or arrived is None else arrived - asked,
                  'next_move': None if arrived is None else following - arrived,
                  'detect': None if arrived is None or marked is None else marked - arrived,
                  'store': None if marked is None or stored is None else stored - marked,
                  'cycle': following - start}
        for name, value in values.items():
            if value is not None:
                per[name].append(value)
    return {name: round(1000 * float(np.median(v)), 1) if v else None
            for name, v in per.items()}


def heldout_tail(dataset, train_max):
    data = load_dataset(dataset)
    data.records = data.records[train_max:]
    return usable_samples(data)


def plot(cache, sizes, roundtrip_at, forward_at, fit_seconds):
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(sizes, [roundtrip_at[str(n)] for n in sizes], 'o-',
            label='inverse round trip (real loop)')
    ax.plot(sizes, [forward_at[str(n)] for n in sizes], 's-', label='forward (held out)')
    ax.axhline(TARGET_ERROR, color='red', ls='--', label='target 3% of mouth width')
    ax.set_xscale('log')
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.set_xticks([], minor=True)
    ax.set_xlabel('babbling samples used for fitting')
    ax.set_ylabel('lip error / mouth width')
    for n in sizes:
        ax.annotate(f'{fit_seconds[str(n)]:.0f} s', (n, roundtrip_at[str(n)]),
                    textcoords='offset points', xytext=(0, 6), fontsize=8, ha='center')
    ax.set_title('Self-model learning curve (labels: fit time)')
    ax.legend()
    fig.tight_layout()
    path = cache / 'learning_curve.png'
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[500, 1000, 2000, 4000])
    parser.add_argument('--heldout', type=int, default=200,
                        help='babbling samples after the largest size kept for evaluation')
    parser.add_argument('--targets', type=int, default=40,
                        help='held-out targets sent round the real loop per size')
    parser.add_argument('--transition-time', type=float, default=0.1,
                        help='seconds per babbling move')
    parser.add_argument('--image-size', type=int, nargs=2, default=[480, 360],
                        metavar=('WIDTH', 'HEIGHT'), help='face_sim camera image size [px]')
    parser.add_argument('--cache', type=pathlib.Path,
                        default=ROOT / 'build' / 'bench' / 'self_model')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--rate-only', action='store_true',
                        help='measure only the babbling rate (babble_samples_per_s)')
    parser.add_argument('--rate-samples', type=int, default=60,
                        help='samples babbled for --rate-only')
    parser.add_argument('--stages', action='store_true',
                        help='with --rate-only: also the median time of each stage of a '
                        'sample (a recorder in this process listens to the graph, which '
                        'costs some CPU: compare rates without it)')
    args = parser.parse_args(argv)
    machine = machine_report()   # before the run: the load others put on the machine
    print(f'machine: {machine["cpu"]}, {machine["cores"]} cores, load {machine["load_1min"]}, '
          f'reference workload {machine["reference_ms"]} ms', file=sys.stderr)
    sizes = sorted(set(args.sizes))
    face_sim = {'width': args.image_size[0], 'height': args.image_size[1]}
    if args.rate_only:
        rclpy.init()
        try:
            rate, stages = babble_rate(args.rate_samples, args.transition_time, face_sim,
                                       stages=args.stages)
        finally:
            rclpy.try_shutdown()
        if stages:
            for name, meaning in STAGES:
                print(f'{name:>15}: {stages[name]} ms  ({meaning})', file=sys.stderr)
        print(json.dumps({'babble_samples_per_s': round(rate, 2),
                          'babble_samples': args.rate_samples,
                          **({'stage_ms': stages} if stages else {}),
                          'transition_time': args.transition_time, 'machine': machine}))
        return
    torch.set_num_threads(args.threads)
    args.cache.mkdir(parents=True, exist_ok=True)
    rclpy.init()
    try:
        dataset, collection_seconds, rate = collect(args.cache, sizes[-1] + args.heldout,
                                                    args.transition_time, face_sim)
        heldout = heldout_tail(dataset, sizes[-1])
        targets = Samples(heldout.joints[:args.targets], heldout.landmarks[:args.targets])
        fit_seconds, forward_at, roundtrip_at, neutral = {}, {}, {}, None
        checkpoints = {}
        for n in sizes:
            out = args.cache / f'self_model_{n}.pt'
            report = run_fit(dataset, out, options=FitOptions(), limit=n)
            fit_seconds[str(n)] = report['fit_seconds']
            model, _ = load_checkpoint(out)
            forward_at[str(n)] = round(float(forward_errors(model, heldout).mean()), 5)
            checkpoints[n] = model
            print(f'{n} samples: fit {report["fit_seconds"]:.1f} s, forward '
                  f'{forward_at[str(n)]:.4f}', file=sys.stderr)
        face = load_face_config(default_face_config_path())
        with mirror_graph(with_calibration=False, face_sim=face_sim):
            runner = LoopRunner(face)
            try:
                for n in sizes:
                    errors, baseline = roundtrip(runner, checkpoints[n], targets.landmarks)
                    roundtrip_at[str(n)] = round(float(np.nanmean(errors)), 5)
                    neutral = round(float(np.nanmean(baseline)), 5)
                    print(f'{n} samples: round trip {roundtrip_at[str(n)]:.4f} of mouth width '
                          f'(neutral face {neutral:.4f})', file=sys.stderr)
            finally:
                runner.close()
    finally:
        rclpy.try_shutdown()
    plot_path = plot(args.cache, sizes, roundtrip_at, forward_at, fit_seconds)
    within = [n for n in sizes if n <= TARGET_SAMPLES and roundtrip_at[str(n)] <= TARGET_ERROR]
    print(json.dumps({
        'roundtrip_error_at': roundtrip_at,
        'forward_error_at': forward_at,
        'fit_seconds': fit_seconds,
        'neutral_face_error': neutral,
        'roundtrip_targets': len(targets.joints),
        'heldout_samples': len(heldout.joints),
        'collection_seconds': round(collection_seconds, 1),
        'babble_samples_per_s': None if rate is None else round(rate, 2),
        'target_met': bool(within) and max(fit_seconds.values()) <= TARGET_FIT_SECONDS,
        'plot': str(plot_path),
        'machine': machine,
    }))


if __name__ == '__main__':
    main()
