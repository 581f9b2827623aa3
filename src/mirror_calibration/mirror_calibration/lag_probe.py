"""The mirror-lag probe: a node that drives jaw_open like the lip policy and records the face.

jaw_trajectory is the stimulus (a smooth speech-like jaw movement); LagProbe sends it on
face/lip_command at the policy's rate and records face/joint_states and the mouth opening
seen in face/landmarks; measure times what followed with lag_estimate.
"""

import sys
import threading
import time

import numpy as np

from face_common.time import stamp_seconds
from face_msgs import face_layout
from mirror_calibration.lag_estimate import LagError, estimate_lag, fit_servo

SEEN_OPENED = 0.02  # [eye spans] rise of the seen mouth opening that shows the face moves
MIN_CORRELATION = 0.6  # below this the trajectory was not seen clearly enough to time it
FREQUENCIES = (0.7, 1.3, 2.1, 3.1, 4.0)  # [Hz] of the jaw trajectory (syllable rates)


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


class LagProbe:
    """A node that drives jaw_open like the lip policy and records what the face did."""

    def __init__(self, actuator_names, neutral, rate=100.0):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState

        from face_common.qos import COMMAND_QOS, landmark_reader_qos
        from face_msgs.msg import FaceCommand, FaceLandmarks

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

    def _on_joints(self, msg):
        position = dict(zip(msg.name, msg.position)).get('jaw_open')
        if position is not None and np.isfinite(position):
            with self.lock:
                self.joints.append((stamp_seconds(msg.header.stamp), position))

    def _on_landmarks(self, msg):
        if msg.detected and msg.layout == face_layout.LAYOUT_NAME:
            points = np.array([(p.x, p.y, p.z) for p in msg.points])
            with self.lock:
                self.openings.append((stamp_seconds(msg.header.stamp),
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

    def wait_for_a_moving_face(self, upper, timeout, opened=SEEN_OPENED):
        """Open the jaw partway and back until the camera sees the mouth open, then rest.

        Joint states and a seen face do not show that the image follows the servos: a
        camera may see a face that does not move yet (a simulated head whose renderer has
        not heard the driver's joint states draws its rest face; under load that lasted
        1.2 s of a 6 s run and halved the visible correlation). opened: the rise of the
        seen mouth opening [eye spans] that counts as a response. LagError after timeout.
        """
        rest, target = self.neutral[self.jaw], self.neutral[self.jaw] + 0.4 * (
            upper - self.neutral[self.jaw])
        deadline = time.monotonic() + timeout
        seen = 0.0
        while time.monotonic() < deadline:
            since = self.now()
            self._hold(target, 0.5)
            with self.lock:
                before = [o for t, o in self.openings if t < since]
                after = [o for t, o in self.openings if t >= since + 0.1]
            if before and after:
                seen = max(after) - float(np.median(before[-10:]))
                if seen >= opened:
                    break
            self._hold(rest, 0.3)
        else:
            raise LagError(f'in {timeout:.0f} s the mouth the camera sees did not open with '
                           f'the jaw (largest rise {seen:.3f} eye spans, {opened} needed): is '
                           'the camera looking at this face, and does the face move?')
        self._hold(rest, 0.2)
        while not self._jaw_near(rest):  # back at rest, and the camera showing it
            if time.monotonic() > deadline:
                raise LagError('the jaw did not return to rest; is torque on?')
            self._hold(rest, 0.1)
        self._hold(rest, 0.3)

    def _jaw_near(self, position, tolerance=0.01):
        with self.lock:
            return bool(self.joints) and abs(self.joints[-1][1] - position) <= tolerance

    def _hold(self, position, seconds):
        """Command jaw_open to `position` [rad] at the command rate for `seconds` (the driver
        paces the move within the jaw's velocity limit)."""
        times = np.array([0.0, seconds])
        self.drive(times, np.array([position, position]), progress=False, settle=0.0)

    def drive(self, times, jaw, progress=True, settle=0.5):
        """Send the jaw trajectory in real time, then wait `settle` [s] for the last moves to
        reach the camera; returns (send times [s], jaw [rad])."""
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
        time.sleep(settle)
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
