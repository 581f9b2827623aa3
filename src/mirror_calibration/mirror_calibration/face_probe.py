"""Pose the face and watch it: the shared loop of babbling and round-trip evaluation.

FaceProbe lives inside a node (it needs rclpy) but holds no policy: it publishes FaceCommands
for a smooth move, keeps the pose alive while joints settle (the driver eases to neutral
when commands stop), waits until the camera has captured a frame of the settled face, and
pairs that frame's landmarks with the joint state measured nearest to its capture time.
Capture and landmarks are separate steps (capture, observation) so that a caller may move
on to the next pose as soon as the frame is captured: the frame already shows the face as
it was, and its landmarks are matched by the frame's stamp when the observer gets to them.
Once the joints have settled the probe asks for that frame on camera/trigger (std_msgs/Header
stamped with the earliest capture time that counts): face_sim_node renders it at once, a
free-running camera ignores the request and its next frame is taken.
Subscriptions run on the executor's other threads; the blocking calls here run on the
caller's thread and wake on every joint state, image and landmark message, so no wait lasts
a polling period longer than the face needs.
"""

import collections
import math
import threading
import time

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header

from face_common.qos import COMMAND_QOS, TRIGGER_QOS, landmark_reader_qos
from face_common.time import stamp_seconds
from face_msgs.msg import FaceCommand, FaceLandmarks
from mirror_calibration.babbling import SettleDetector, nearest_in_time, ramped_move

JOINT_HISTORY = 2000  # joint states kept for pairing with frames (20 s at 100 Hz)
FRAME_HISTORY = 50    # image and landmark stamps kept (1.7 s at 30 Hz)
STARTUP_TIMEOUT = 60.0  # [s] for a just-started mirror graph's first joints, image, landmarks
_LOST = object()      # observation(): the observer skipped the frame


class ProbeError(RuntimeError):
    """The graph around the probe is not delivering what it needs (joints, landmarks)."""


class Observed:
    """One posed and observed sample."""

    def __init__(self, landmarks_msg, capture, measured):
        self.detected = bool(landmarks_msg.detected)
        self.image_time = capture.image_time             # [s]
        self.confidence = float(landmarks_msg.confidence)
        self.face_size_px = float(landmarks_msg.face_size_px)
        self.points = (np.array([[p.x, p.y, p.z] for p in landmarks_msg.points])
                       if self.detected else np.zeros((0, 3)))
        self.measured = measured                         # (A,) [rad], NaN = not measured
        self.settled = capture.settled                   # joints settled before the frame
        self.settled_time = capture.settled_time         # still from then on [s]


class Capture:
    """A held pose and the camera frame captured of it (its landmarks may be on their way)."""

    def __init__(self, image_time, settled, settled_time):
        self.image_time = image_time      # the frame's stamp: when the face looked so [s]
        self.settled = settled            # joints settled before the frame
        self.settled_time = settled_time  # still from then on [s]


class FrameRequest:
    """A settled pose whose frame has been asked for (FaceProbe.request_frame)."""

    def __init__(self, settled, settled_time, wanted_after):
        self.settled = settled            # joints settled (False: settle_timeout)
        self.settled_time = settled_time  # still from then on [s]
        self.wanted_after = wanted_after  # the frame must be captured at or after this [s]


def no_image_error(timeout):
    """The ProbeError of a frame that did not come within timeout [s]."""
    return ProbeError(f'no image on camera/image_raw captured after the pose within '
                      f'{timeout:g} s; start the camera (camera_node or face_sim_node), '
                      'stamping its images with their capture time')


class FaceProbe:
    """servo_lag [s]: moves lead the servos' first-order lag (babbling.ramped_move's lead);
    command_latency [s]: moves run that far ahead, as commands take that long to reach the
    servos (50 Hz command steps, the driver's cycle). Both 0 = command the path itself."""

    def __init__(self, node, face_config, command_topic, command_rate, settle_window,
                 settle_tolerance, frame_delay, servo_lag=0.0, command_latency=0.0):
        self.node = node
        self.names = list(face_config.names)
        self._index = {n: i for i, n in enumerate(self.names)}
        self.period = 1.0 / command_rate
        self.frame_delay = frame_delay
        self.servo_lag, self.command_latency = servo_lag, command_latency
        self._lock = threading.Lock()
        self._news = threading.Condition(self._lock)   # a joint state, image or landmarks came
        self._joints = collections.deque(maxlen=JOINT_HISTORY)  # (time [s], positions (A,))
        self._settle = SettleDetector(settle_window, settle_tolerance)
        self._images = collections.deque(maxlen=FRAME_HISTORY)   # capture stamps [s]
        self._landmarks = collections.deque(maxlen=FRAME_HISTORY)  # (time [s], FaceLandmarks)
        self._commands = node.create_publisher(FaceCommand, command_topic, COMMAND_QOS)
        self._trigger = node.create_publisher(Header, 'camera/trigger', TRIGGER_QOS)
        group = MutuallyExclusiveCallbackGroup()
        node.create_subscription(JointState, 'face/joint_states', self._on_joints,
                                 qos_profile_sensor_data, callback_group=group)
        # Only the images' stamps are used: they say a frame of the face has been captured
        # long before the observer's landmarks of it arrive.
        node.create_subscription(Image, 'camera/image_raw', self._on_image,
                                 qos_profile_sensor_data, callback_group=group)
        node.create_subscription(FaceLandmarks, 'face/landmarks', self._on_landmarks,
                                 landmark_reader_qos(FRAME_HISTORY), callback_group=group)

    def now(self):
        return self.node.get_clock().now().nanoseconds * 1e-9

    # --- incoming ------------------------------------------------------------------------
    def _on_joints(self, msg):
        stamp = stamp_seconds(msg.header.stamp) or self.now()
        positions = np.full(len(self.names), math.nan)
        for name, position in zip(msg.name, msg.position):
            i = self._index.get(name)
            if i is not None:
                positions[i] = position
        with self._lock:
            self._joints.append((stamp, positions))
            self._settle.add(stamp, positions)
            self._news.notify_all()

    def _on_image(self, msg):
        with self._lock:
            self._images.append(stamp_seconds(msg.header.stamp))
            self._news.notify_all()

    def _on_landmarks(self, msg):
        # Unstamped landmarks count as seen now; a stamp must equal its image's to pair.
        stamp = stamp_seconds(msg.header.stamp) or self.now()
        with self._lock:
            self._landmarks.append((stamp, msg))
            self._news.notify_all()

    def latest_joints(self):
        """Most recent measured positions (A,) [rad], or None before the first joint state."""
        with self._lock:
            return self._joints[-1][1].copy() if self._joints else None

    def wait_for_mirror(self, timeout=STARTUP_TIMEOUT, should_stop=lambda: False):
        """Latest measured positions (A,) [rad] once the whole mirror is up: joint states, a
        camera image and the observer's landmarks have all arrived (a graph just started on
        a busy machine can take seconds to render its first frame). Waits up to timeout [s];
        ProbeError names what is missing. None if should_stop() turned true."""
        def up():
            with self._lock:
                return bool(self._joints) and bool(self._images) and bool(self._landmarks)

        deadline = time.monotonic() + timeout
        while not should_stop():
            if up():
                return self.latest_joints()
            if time.monotonic() > deadline:
                with self._lock:
                    missing = [what for what, seen in (
                        ('joint states on face/joint_states (start face_motor_driver_node, '
                         'port:=sim for the emulated bus)', self._joints),
                        ('images on camera/image_raw (start camera_node or face_sim_node)',
                         self._images),
                        ('landmarks on face/landmarks (start observer_node)',
                         self._landmarks)) if not seen]
                raise ProbeError(f'the mirror is not up after {timeout:g} s: no '
                                 + '; no '.join(missing))
            with self._lock:
                self._news.wait(self.period)
        return None

    # --- outgoing ------------------------------------------------------------------------
    def command(self, pose):
        msg = FaceCommand(source=FaceCommand.SOURCE_CALIBRATION,
                          priority=FaceCommand.PRIORITY_DEFAULT, name=self.names,
                          position=[float(p) for p in pose])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self._commands.publish(msg)

    def move(self, start, goal, duration, should_stop=lambda: False):
        """Publish a ramped move start -> goal lasting duration [s] (babbling.ramped_move),
        command_latency ahead and leading servo_lag; returns when the last command is out."""
        began = time.monotonic() - self.command_latency
        while True:
            elapsed = time.monotonic() - began
            self.command(ramped_move(start, goal, elapsed, duration, self.servo_lag))
            if elapsed >= duration or should_stop():
                return
            # The last command goes out when the move ends, not up to a period later.
            time.sleep(min(self.period, duration - elapsed))

    def _hold_until(self, pose, found, deadline, should_stop):
        """Keep pose commanded (every period; None: command nothing) until found() returns
        non-None, called with the lock held after every incoming message; returns that, or
        None at the deadline [time.monotonic()] or when should_stop() turned true."""
        next_command = 0.0 if pose is not None else math.inf
        while not should_stop():
            now = time.monotonic()
            if now >= next_command:
                self.command(pose)
                next_command = now + self.period
            with self._lock:
                result = found()
                if result is not None or now > deadline:
                    return result
                self._news.wait(min(next_command, deadline) - now)
        return None

    def hold_and_observe(self, pose, settle_timeout, frame_timeout, should_stop=lambda: False):
        """Keep pose commanded until the landmarks of a frame of the settled face arrived
        (capture, then observation). Returns an Observed, or None if should_stop() turned
        true. Raises ProbeError when joint states, images or landmarks do not arrive."""
        while True:
            capture = self.capture(pose, settle_timeout, frame_timeout, should_stop)
            if capture is None:
                return None
            observed = self.observation(capture, frame_timeout, pose, should_stop)
            if observed is not None or should_stop():
                return observed
            # The observer skipped that frame; the next one shows the same held face.

    def capture(self, pose, settle_timeout, frame_timeout, should_stop=lambda: False):
        """Keep pose commanded; wait for settled joints, then for a frame captured after that.

        The face counts as settled from the first joint state of the still window (see
        SettleDetector.still_since); the frame must be captured frame_delay after that. A
        settle timeout takes the frame after the timeout instead (Capture.settled False).
        Returns as soon as the frame's image has arrived, as a Capture, or None if
        should_stop() turned true. Raises ProbeError when joint states or images do not
        arrive at all.
        """
        request = self.request_frame(pose, settle_timeout, frame_timeout, should_stop)
        if request is None:
            return None
        image_time = self._hold_until(
            pose, lambda: next((t for t in self._images if t >= request.wanted_after), None),
            time.monotonic() + frame_timeout, should_stop)
        if image_time is not None:
            return Capture(image_time, request.settled, request.settled_time)
        if should_stop():
            return None
        raise no_image_error(frame_timeout)

    def request_frame(self, pose, settle_timeout, frame_timeout, should_stop=lambda: False):
        """capture's first step: keep pose commanded until the joints settled (or
        settle_timeout [s]), then ask the camera for a frame frame_delay after settling.
        A FrameRequest, or None if should_stop() turned true; ProbeError when joint states
        stop."""
        moved_at = self.now()
        still_since = self._hold_until(
            pose, lambda: self._settle.still_since(since=moved_at),
            time.monotonic() + settle_timeout, should_stop)
        if should_stop():
            return None
        # A loaded machine can stall the driver for a moment: give it frame_timeout more.
        fresh = self._hold_until(
            pose, lambda: True if self._joints and self._joints[-1][0] >= moved_at else None,
            time.monotonic() + frame_timeout, should_stop)
        if fresh is None:
            if should_stop():
                return None
            raise ProbeError('joint states on face/joint_states stopped; is '
                             'face_motor_driver_node still running?')
        settled = still_since is not None
        settled_time = still_since if settled else self.now()
        request = FrameRequest(settled, settled_time, settled_time + self.frame_delay)
        self._request_frame(request.wanted_after)
        return request

    def _request_frame(self, after):
        """Ask a camera that takes requests for a frame of the face at or after after [s]."""
        msg = Header()
        msg.stamp.sec = math.floor(after)
        msg.stamp.nanosec = min(math.ceil((after - msg.stamp.sec) * 1e9), 999_999_999)
        self._trigger.publish(msg)

    def observation(self, capture, timeout, pose=None, should_stop=lambda: False):
        """The landmarks of capture's frame, paired with the joints measured then.

        Keeps pose commanded meanwhile (None: commands nothing, e.g. while a move runs).
        Returns an Observed; None if should_stop() turned true or if the observer published
        a later frame's landmarks but not this frame's (it lost or skipped it: pose again).
        Raises ProbeError when no landmarks of the frame or later arrive within timeout [s].
        """
        def found():
            for stamp, msg in self._landmarks:
                if stamp == capture.image_time:   # the observer copies the image's stamp
                    return msg
                if stamp > capture.image_time:
                    return _LOST
            return None

        msg = self._hold_until(pose, found, time.monotonic() + timeout, should_stop)
        if msg is None and not should_stop():
            raise ProbeError(f'no landmarks on /face/landmarks for the frame captured at '
                             f'{capture.image_time:.3f} within {timeout:g} s; start '
                             'observer_node')
        if msg is None or msg is _LOST:
            return None
        with self._lock:
            stamps = [t for t, _ in self._joints]
            values = [p for _, p in self._joints]
        measured, _ = nearest_in_time(stamps, values, capture.image_time)
        if measured is None:
            measured = np.full(len(self.names), math.nan)
        return Observed(msg, capture, measured)
