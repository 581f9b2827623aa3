"""FaceProbe's hold: a sample's frame is captured after the face settled, and its landmarks
are those of that very frame (no ROS graph: a stand-in node, and a thread playing driver,
camera and observer)."""

import threading
import time

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header

from face_motor_driver.face_config import default_face_config_path, load_face_config
from face_msgs.msg import FaceLandmarks
from mirror_calibration.face_probe import FaceProbe

FACE = load_face_config(default_face_config_path())
WINDOW, STILL, FRAME_DELAY = 0.04, 0.003, 0.03


def _stamp(seconds):
    return Time(sec=int(seconds), nanosec=int(seconds % 1 * 1e9))


class StandInNode:
    """What FaceProbe uses of a node: a clock, publishers, subscriptions."""

    def __init__(self):
        self.callbacks = {}
        self.commands = []

    def get_clock(self):
        return self

    def now(self):
        return self

    @property
    def nanoseconds(self):
        return time.time_ns()

    def to_msg(self):
        return _stamp(time.time())

    def create_publisher(self, _type, _topic, _qos):
        return self

    def publish(self, msg):
        self.commands.append(msg)

    def create_subscription(self, _type, topic, callback, _qos, callback_group=None):
        self.callbacks[topic] = callback


def _play_face(node, pose, moving_for, stop, log, skipped=()):
    """Joints approach pose for moving_for [s], then hold still; 150 Hz joint states; a
    30 Hz camera whose images arrive at once and whose landmarks arrive 40 ms after
    capture, except for the frames numbered in skipped (the observer skips them)."""
    start = time.time()
    begin = pose - 0.2
    next_frame, pending = start, []
    while not stop.is_set():
        now = time.time()
        progress = min((now - start) / moving_for, 1.0)
        positions = begin + progress * (pose - begin)
        log.setdefault('joints', []).append((now, positions))
        node.callbacks['face/joint_states'](JointState(
            header=Header(stamp=_stamp(now)), name=list(FACE.names), position=positions.tolist()))
        if now >= next_frame:
            captures = log.setdefault('captures', [])
            if len(captures) not in skipped:
                pending.append(now)
            captures.append(now)
            node.callbacks['camera/image_raw'](Image(header=Header(stamp=_stamp(now))))
            next_frame += 1 / 30
        while pending and now - pending[0] >= 0.04:
            # the frame's own stamp, and its capture time as confidence to tell frames apart
            node.callbacks['face/landmarks'](FaceLandmarks(
                header=Header(stamp=_stamp(pending[0])), detected=False,
                confidence=pending.pop(0) % 1))
        time.sleep(1 / 150)


def test_the_frame_of_a_sample_is_captured_after_the_face_settled():
    node = StandInNode()
    probe = FaceProbe(node, FACE, 'face/expression_command', 50.0, WINDOW, STILL, FRAME_DELAY)
    pose = np.array([a.neutral for a in FACE.actuators]) + 0.1
    stop, log = threading.Event(), {}
    face = threading.Thread(target=_play_face, args=(node, pose, 0.15, stop, log))
    face.start()
    try:
        observed = probe.hold_and_observe(pose, settle_timeout=2.0, frame_timeout=2.0)
    finally:
        stop.set()
        face.join()
    assert observed.settled
    # from settled_time on the face held its pose (within the stillness tolerance) ...
    after = np.array([p for t, p in log['joints'] if t >= observed.settled_time])
    assert np.abs(after - pose).max() < STILL, 'counted as settled while moving'
    # ... and the frame was captured frame_delay after that, though earlier frames came
    moving = [t for t, p in log['joints'] if np.abs(p - pose).max() >= STILL]
    assert observed.image_time >= observed.settled_time + FRAME_DELAY
    assert any(t < moving[-1] for t in log['captures']), 'frames came in while moving too'
    # the first frame captured late enough is taken, not a later one
    eligible = [t for t in log['captures'] if t >= observed.settled_time + FRAME_DELAY]
    assert abs(observed.image_time - eligible[0]) < 1e-6
    np.testing.assert_allclose(observed.measured, pose, atol=STILL)
    assert node.commands, 'the pose is kept commanded while holding'


def test_a_captured_frame_is_paired_with_its_own_landmarks_or_none():
    node = StandInNode()
    probe = FaceProbe(node, FACE, 'face/expression_command', 50.0, WINDOW, STILL, FRAME_DELAY)
    pose = np.array([a.neutral for a in FACE.actuators]) + 0.1
    stop, log = threading.Event(), {}
    skipped = range(12, 1000, 2)   # from frame 12 on, the observer skips every other frame
    face = threading.Thread(target=_play_face, args=(node, pose, 0.15, stop, log, skipped))
    face.start()
    try:
        capture = probe.capture(pose, settle_timeout=2.0, frame_timeout=2.0)
        assert capture.image_time in log['captures']
        assert capture.image_time >= capture.settled_time + FRAME_DELAY
        observed = probe.observation(capture, timeout=2.0)
        if log['captures'].index(capture.image_time) in skipped:
            assert observed is None, 'a later frame\'s landmarks stood in for a skipped one'
        else:
            assert observed.image_time == capture.image_time
            assert observed.confidence == np.float32(capture.image_time % 1)
        while observed is not None:   # until a skipped frame comes up
            capture = probe.capture(pose, settle_timeout=2.0, frame_timeout=2.0)
            observed = probe.observation(capture, timeout=2.0)
            if observed is not None:
                assert observed.confidence == np.float32(capture.image_time % 1)
        assert log['captures'].index(capture.image_time) in skipped
    finally:
        stop.set()
        face.join()


def test_a_frame_asked_for_before_the_next_move_counts_only_if_it_shows_the_held_face():
    """calibration_node's frame_overlap: the next move starts once the frame is asked for;
    the frame is taken if captured before that move's first command, or after it while the
    joints had not moved yet, and is MOVED once they had."""
    from mirror_calibration.calibration_node import MOVED, BabbleProbe
    from mirror_calibration.face_probe import FrameRequest

    pose = np.array([a.neutral for a in FACE.actuators]) + 0.1
    t0, moved_at = 1000.0, 1000.2        # the next move's first command is published at moved_at
    acting = moved_at + 0.02             # ... and reaches the servos 20 ms later

    def probe_seeing(image_stamps):
        node = StandInNode()
        probe = BabbleProbe(node, FACE, 'face/expression_command', 50.0, WINDOW, STILL,
                            FRAME_DELAY)
        for k in range(60):              # 150 Hz joint states: held, then moving on
            t = t0 + k / 150
            positions = pose + (0.01 * (t - acting) * 150 if t > acting else 0.0)
            node.callbacks['face/joint_states'](JointState(
                header=Header(stamp=_stamp(t)), name=list(FACE.names),
                position=positions.tolist()))
        for stamp in image_stamps:
            node.callbacks['camera/image_raw'](Image(header=Header(stamp=_stamp(stamp))))
        return probe

    request = FrameRequest(True, t0 + 0.05, t0 + 0.05 + FRAME_DELAY)
    for images, taken in (([t0 + 0.02, t0 + 0.1], t0 + 0.1),     # before the move: taken
                          ([moved_at + 0.01], moved_at + 0.01),  # commands not acting yet
                          ([acting + 0.03], MOVED)):             # the face moved on
        captured = probe_seeing(images).frame(request, timeout=1.0, moved_at=moved_at)
        if taken is MOVED:
            assert captured is MOVED
        else:
            assert captured.image_time == pytest.approx(taken, abs=1e-6)
            assert captured.settled and captured.settled_time == request.settled_time
    # the last sample of a session: no next move, so no check
    captured = probe_seeing([acting + 0.03]).frame(request, timeout=1.0)
    assert captured.image_time == pytest.approx(acting + 0.03, abs=1e-6)
