"""mirror-lag CKPT: measure how long the face takes to show a lip command; store it in CKPT.

The lip policy leads the audio by the actuator lag so that the lips arrive with the sound.
This measures that lag on the running face the way the policy drives it: jaw_open commands
on face/lip_command at the policy's rate, each stamped to be reached by the next one, along
a smooth speech-like trajectory (sines of 0.7 to 4 Hz, within the jaw's velocity limit).
Two delays come out, each as the shift that best aligns the commanded jaw with what followed
(cross-correlation peak, parabolic sub-sample):

    servo_lag    command -> jaw position measured by the driver (face/joint_states)
    visible_lag  command -> mouth opening seen by the camera (face/landmarks, stamped at
                 capture, so the observer's processing time is not counted): servos, skin
                 and everything else between a command and a visible mouth

The servo response is also fitted as a first-order lag plus dead time (servo_time_constant,
servo_dead_time). visible_lag is written into the self-model checkpoint's metadata as
`actuator_lag` and the time constant as `servo_time_constant`, where lip_policy_node reads
them (its parameters of those names at -1): it leads the audio by the lag and feeds the
servos forward by the time constant. Run it with the calibration
graph up (driver, camera, observer), or with --graph on the simulated head:

    mirror-lag models/self_model_sim.pt --graph
"""

import argparse
import contextlib
import json
import pathlib
import sys
import threading
import time

import numpy as np

from face_common.files import replace_atomically
from mirror_calibration import face_layout

GRID = 0.005  # [s] resampling step of the lag estimate
MAX_LAG = 0.3  # [s] longest lag searched
MIN_CORRELATION = 0.6  # below this the trajectory was not seen clearly enough to time it
FREQUENCIES = (0.7, 1.3, 2.1, 3.1, 4.0)  # [Hz] of the jaw trajectory (syllable rates)


class LagError(RuntimeError):
    """The lag could not be measured; the text says what to do."""


def jaw_trajectory(neutral, upper, max_velocity, seconds, seed=0):
    """(times, positions) [s, rad] from neutral towards upper and back, smooth, starting and
    ending at neutral, never faster than 0.8 x max_velocity."""
    t = np.arange(0.0, seconds, 0.001)
    rng = np.random.default_rng(seed)
    wave = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) / f for f in FREQUENCIES)
    wave = (wave - wave.min()) / (wave.max() - wave.min())  # [0, 1]
    envelope = np.clip(np.minimum(t, seconds - t) / 0.5, 0.0, 1.0)  # 0.5 s fade in and out
    shape = envelope * wave
    amplitude = 0.6 * (upper - neutral)
    speed = np.abs(np.gradient(shape, t)).max() * abs(amplitude)
    if speed > 0.8 * max_velocity:
        amplitude *= 0.8 * max_velocity / speed
    return t, neutral + amplitude * shape


def estimate_lag(t_cause, cause, t_effect, effect, max_lag=MAX_LAG):
    """(lag [s], peak correlation) by which `effect` follows `cause` (both 1-D series)."""
    start, stop = max(t_cause[0], t_effect[0]), min(t_cause[-1], t_effect[-1])
    if stop - start < 4 * max_lag:
        raise LagError(f'only {max(stop - start, 0):.1f} s of overlapping data to time; '
                       'the face or the camera stopped delivering')
    grid = np.arange(start, stop, GRID)
    a = np.interp(grid, t_cause, cause)
    b = np.interp(grid, t_effect, effect)
    a, b = a - a.mean(), b - b.mean()
    if a.std() == 0 or b.std() == 0:
        raise LagError('the signal did not move; is torque on and the face in view?')
    shifts = np.arange(0, int(round(max_lag / GRID)) + 1)
    n = len(grid)
    scores = np.array([np.corrcoef(a[:n - s], b[s:])[0, 1] for s in shifts])
    return float(refined_peak(scores) * GRID), float(scores.max())


def refined_peak(scores):
    """Index of the largest of evenly spaced scores, refined between samples by the parabola
    through it and its two neighbours (the index itself at an edge or a flat top)."""
    i = int(np.argmax(scores))
    if 0 < i < len(scores) - 1:
        curvature = scores[i - 1] - 2 * scores[i] + scores[i + 1]
        if curvature < 0:
            return i + 0.5 * (scores[i - 1] - scores[i + 1]) / curvature
    return float(i)


def first_order(t, x, tau):
    """x (sampled at t) through a first-order lag of time constant tau [s]."""
    if tau <= 0:
        return np.asarray(x, float).copy()
    y = np.empty(len(x))
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = y[i - 1] + min((t[i] - t[i - 1]) / tau, 1.0) * (x[i] - y[i - 1])
    return y


def fit_servo(t_cause, cause, t_effect, effect):
    """(time constant [s], dead time [s], correlation) of the first-order lag plus dead time
    that best turns the commands into the measured positions."""
    grid = np.arange(t_cause[0], t_cause[-1], GRID)
    commanded = np.interp(grid, t_cause, cause)
    best = None
    for tau in np.arange(0.0, 0.1001, GRID):
        delay, r = estimate_lag(grid, first_order(grid, commanded, tau), t_effect, effect)
        if best is None or r > best[2]:
            best = (float(tau), delay, r)
    return best


class LagProbe:
    """A node that drives jaw_open like the lip policy and records what the face did."""

    def __init__(self, actuator_names, neutral, rate=100.0):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState

        from face_msgs.msg import FaceCommand, FaceLandmarks
        from mirror_calibration.qos import COMMAND_QOS, landmark_reader_qos

        self.node = rclpy.create_node('mirror_lag')
        self.names, self.neutral = list(actuator_names), np.asarray(neutral, float)
        self.jaw = self.names.index('jaw_open')
        self.period = 1.0 / rate
        self.publisher = self.node.create_publisher(FaceCommand, 'face/lip_command',
                                                    COMMAND_QOS)
        self.lock = threading.Lock()
        self.joints, self.openings = [], []  # (stamp [s], jaw [rad]) / (stamp, opening)
        self.node.create_subscription(JointState, 'face/joint_states', self._on_joints,
                                      qos_profile_sensor_data)
        self.node.create_subscription(FaceLandmarks, 'face/landmarks', self._on_landmarks,
                                      landmark_reader_qos(300))   # 10 s at 30 Hz
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def now(self):
        return self.node.get_clock().now().nanoseconds * 1e-9

    @staticmethod
    def _stamp(msg):
        return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9

    def _on_joints(self, msg):
        position = dict(zip(msg.name, msg.position)).get('jaw_open')
        if position is not None and np.isfinite(position):
            with self.lock:
                self.joints.append((self._stamp(msg), position))

    def _on_landmarks(self, msg):
        if msg.detected and msg.layout == face_layout.LAYOUT_NAME:
            points = np.array([(p.x, p.y, p.z) for p in msg.points])
            with self.lock:
                self.openings.append((self._stamp(msg),
                                      float(face_layout.mouth_opening(points[None])[0])))

    def wait_for_face(self, timeout):
        """Until joint states and a seen face arrive; LagError naming what is missing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.joints) > 5 and len(self.openings) > 5:
                    return
            time.sleep(0.1)
        with self.lock:
            joints, seen = len(self.joints), len(self.openings)
        raise LagError(f'in {timeout:.0f} s: {joints} joint states, {seen} landmark frames '
                       'with a face. Start the calibration graph (face-bringup calibrate) or '
                       'pass --graph for the simulated head.')

    def drive(self, times, jaw, progress=True):
        """Send the jaw trajectory in real time; returns (send times [s], jaw [rad])."""
        from rclpy.time import Time
        from tqdm import tqdm

        from face_msgs.msg import FaceCommand

        sent_t, sent = [], []
        start = time.monotonic()
        bar = tqdm(total=round(times[-1]), unit='s', desc='jaw trajectory', file=sys.stderr,
                   disable=not progress)
        k = 0
        while (elapsed := time.monotonic() - start) <= times[-1]:
            position = float(np.interp(elapsed, times, jaw))
            now = self.now()
            msg = FaceCommand()
            msg.header.stamp = Time(nanoseconds=round(now * 1e9)).to_msg()
            msg.source = FaceCommand.SOURCE_LIP
            msg.name = [self.names[self.jaw]]
            msg.position = [position]
            msg.reach_time = Time(nanoseconds=round((now + self.period) * 1e9)).to_msg()
            self.publisher.publish(msg)
            sent_t.append(now)
            sent.append(position)
            if int(elapsed) > bar.n:
                bar.update(int(elapsed) - bar.n)
            k += 1
            time.sleep(max(0.0, start + k * self.period - time.monotonic()))
        bar.close()
        time.sleep(0.5)  # the last moves reach the camera
        return np.array(sent_t), np.array(sent)

    def recorded(self):
        with self.lock:
            joints, openings = list(self.joints), list(self.openings)
        return np.array(joints).reshape(-1, 2), np.array(openings).reshape(-1, 2)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.thread.join(timeout=5)


def measure(probe, upper, max_velocity, seconds=15.0, progress=True):
    """Drive the jaw and time what followed: a dict of figures and the recorded series."""
    times, jaw = jaw_trajectory(probe.neutral[probe.jaw], upper, max_velocity, seconds)
    sent_t, sent = probe.drive(times, jaw, progress)
    joints, openings = probe.recorded()
    joints = joints[joints[:, 0] >= sent_t[0] - 0.5]
    openings = openings[openings[:, 0] >= sent_t[0] - 0.5]
    servo_lag, servo_r = estimate_lag(sent_t, sent, joints[:, 0], joints[:, 1])
    tau, dead_time, _ = fit_servo(sent_t, sent, joints[:, 0], joints[:, 1])
    if len(openings) < 20:
        raise LagError(f'the camera saw the face in only {len(openings)} frames while the jaw '
                       'moved; check the camera and the observer')
    visible_lag, visible_r = estimate_lag(sent_t, sent, openings[:, 0], openings[:, 1])
    if visible_r < MIN_CORRELATION:
        raise LagError(f'the mouth opening followed the jaw commands only weakly (r = '
                       f'{visible_r:.2f}); check that the camera sees the mouth, then repeat')
    span = openings[-1, 0] - openings[0, 0]
    figures = {'servo_lag_s': round(servo_lag, 4), 'servo_correlation': round(servo_r, 3),
               'servo_time_constant_s': round(tau, 4), 'servo_dead_time_s': round(dead_time, 4),
               'visible_lag_s': round(visible_lag, 4), 'visible_correlation': round(visible_r, 3),
               'camera_rate_hz': round((len(openings) - 1) / span, 1) if span > 0 else 0.0,
               'command_rate_hz': round(1.0 / probe.period, 1), 'seconds': seconds}
    return figures, (sent_t, sent, joints, openings)


def write_lag(checkpoint_path, figures):
    """Store figures['visible_lag_s'] as metadata actuator_lag in the checkpoint (atomic)."""
    import torch

    from mirror_calibration.self_model import load_checkpoint

    _, checkpoint = load_checkpoint(checkpoint_path)  # refuses a damaged or foreign file
    checkpoint['metadata'] = {**checkpoint.get('metadata', {}),
                              'actuator_lag': float(figures['visible_lag_s']),
                              'servo_time_constant': float(figures['servo_time_constant_s']),
                              # plain numbers only: the file must load with weights_only
                              'actuator_lag_measurement': json.loads(
                                  json.dumps(figures, default=float))}
    with replace_atomically(checkpoint_path) as f:
        torch.save(checkpoint, f)


def plot(path, series, figures):
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    sent_t, sent, joints, openings = series
    t0 = sent_t[0]

    def unit(x):
        return (x - x.min()) / max(x.max() - x.min(), 1e-9)

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(sent_t - t0, unit(sent), label='jaw_open command')
    ax.plot(joints[:, 0] - t0, unit(joints[:, 1]),
            label=f'measured jaw (+{figures["servo_lag_s"] * 1000:.0f} ms)')
    ax.plot(openings[:, 0] - t0, unit(openings[:, 1]), '.', markersize=3,
            label=f'mouth opening seen (+{figures["visible_lag_s"] * 1000:.0f} ms)')
    ax.set_xlabel('time [s]')
    ax.set_ylabel('normalised')
    ax.set_title('mirror-lag: command -> servo -> camera')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='mirror-lag', description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='self-model checkpoint (mirror-fit) to store it in')
    parser.add_argument('--graph', action='store_true',
                        help='start the simulated head (driver on the emulated bus, face_sim, '
                             'observer) instead of using a running graph')
    parser.add_argument('--seconds', type=float, default=15.0,
                        help='length of the jaw trajectory [s], 4..60')
    parser.add_argument('--rate', type=float, default=100.0,
                        help='command rate [Hz]: the lip policy\'s command_rate')
    parser.add_argument('--wait', type=float, default=60.0,
                        help='[s] to wait for joint states and a seen face before giving up')
    parser.add_argument('--dry-run', action='store_true',
                        help='measure and print, but leave the checkpoint unchanged')
    parser.add_argument('--out', default='',
                        help='JSON figures (default CKPT with .lag.json); the plot goes beside')
    args = parser.parse_args(argv)
    if not 4.0 <= args.seconds <= 60.0:
        parser.error('--seconds must be in [4, 60]')
    if not 0.5 <= args.wait <= 600.0:
        parser.error('--wait must be in [0.5, 600] s')
    if not 1.0 <= args.rate <= 1000.0:
        parser.error('--rate must be in [1, 1000] Hz')
    return args


def main(argv=None):
    import rclpy

    from face_motor_driver.face_config import (
        ConfigError,
        default_face_config_path,
        load_face_config,
    )
    from mirror_calibration.node_graph import NodeStartError, mirror_graph
    from mirror_calibration.self_model import (
        SelfModelError,
        load_checkpoint,
        require_actuators,
    )

    args = parse_args(argv)
    out = pathlib.Path(args.out) if args.out else pathlib.Path(args.checkpoint).with_suffix(
        '.lag.json')
    rclpy.init()
    try:
        _, checkpoint = load_checkpoint(args.checkpoint)
        face = load_face_config(default_face_config_path())
        require_actuators(checkpoint, face.names)
        jaw = face.actuators[face.names.index('jaw_open')]
        graph = mirror_graph(with_calibration=False) if args.graph else contextlib.nullcontext()
        with graph:
            probe = LagProbe(face.names, [a.neutral for a in face.actuators], args.rate)
            try:
                probe.wait_for_face(args.wait)
                figures, series = measure(probe, jaw.max, jaw.max_velocity, args.seconds)
            finally:
                probe.close()
        if not args.dry_run:
            write_lag(args.checkpoint, figures)
    except (LagError, SelfModelError, ConfigError, NodeStartError, ValueError) as error:
        print(f'mirror-lag: {error}', file=sys.stderr)
        return 2
    finally:
        rclpy.try_shutdown()
    figures['written_to'] = '' if args.dry_run else str(args.checkpoint)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(out.with_suffix('.png'), series, figures)
    figures['plot'] = str(out.with_suffix('.png'))
    out.write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures))
    return 0


if __name__ == '__main__':
    sys.exit(main())
