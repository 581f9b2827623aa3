"""calibration_node: serves the Babble action on /face/babble.

For each pose of the seeded space-filling sequence it moves the face smoothly there (as a
FaceCommand with SOURCE_CALIBRATION), holds it until the measured joints settle and the
camera has captured a frame after that, and appends (commanded, measured at the frame's
time, landmarks of that frame) to the dataset. The move to the next pose starts as soon as
the frame is captured: the observer's landmarks of it arrive during that move (70 ms after
capture, 200 ms on a busy machine) and are matched by the frame's stamp, and the sample is
written then, before the next frame is taken. With `frame_overlap` (a camera that captures
on camera/trigger, such as face_sim) the next move starts as soon as the frame is asked for,
while the camera renders it: the frame is taken only if the joint states from settling to
its capture time all stayed within settle_tolerance of each other (the face had not begun
the next move), else its pose is babbled again; when that happens to a quarter of the
samples (a camera that does not capture on request) the node waits for every frame again.
Samples are written in pose order, so a resumed dataset continues after its last sample;
a sample whose frame the observer skipped is posed again. Feedback reports progress after
every sample written. One goal runs at a time; a goal for an existing dataset resumes it.

The probe's topics (joint states at the driver's 150 Hz, images, landmarks) are served by a
helper node, calibration_node_probe, on its own single-threaded executor thread: woken by
every joint state, the node's multi-threaded executor rebuilt the wait set of the action
server, parameter services and event handlers each time and used a third of a core.
"""

import math
import threading
import time

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter as RosParameter

from face_common.parameters import (
    Check,
    Parameter,
    ParameterError,
    declare_parameters,
    positive,
)
from face_common.spin import spin_node
from face_motor_driver.face_config import (
    ConfigError,
    default_face_config_path,
    load_face_config,
)
from face_msgs import face_layout
from face_msgs.action import Babble
from mirror_calibration.babbling import (
    BabbleError,
    babble_poses,
    babbled_actuators,
    transition_time,
)
from mirror_calibration.dataset import DatasetError, DatasetMeta, DatasetWriter
from mirror_calibration.face_probe import (
    Capture,
    FaceProbe,
    FrameRequest,
    ProbeError,
    no_image_error,
)

POSE_BLOCK = 64  # poses generated at a time (the sequence is resumable at any index)
MOVED = object()  # BabbleProbe.frame(): the face moved before the frame was captured
OVERLAP_CHECK = 8  # frame_overlap stays on while fewer than a quarter of frames (after
                   # this many rejected) showed the face moved


class BabbleProbe(FaceProbe):
    """FaceProbe.capture in two steps, so the next move can run while the camera captures
    the frame: request_frame (FaceProbe's) waits until the joints settled and asks for the
    frame; frame waits for that frame and takes it only if it shows the face before the
    next move moved it: captured before the next move's first command was published, or
    with every joint state from then to the frame's stamp within the stillness tolerance
    of the last one before it (the commands had not reached the servos yet)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.still = self._settle.still

    def frame(self, request, timeout, pose=None, should_stop=lambda: False, moved_at=math.inf):
        """The Capture of request's frame (the first image captured at or after its time),
        once the joint states up to that image's stamp have arrived; keeps pose commanded
        meanwhile (None: nothing). moved_at [s]: when the next move's first command was
        published; MOVED if the frame was captured later and the joints had moved by
        settle_tolerance or more by then. None if should_stop() turned true. ProbeError
        when no such image arrives within timeout [s]."""
        def found():
            image = next((t for t in self._images if t >= request.wanted_after), None)
            if image is None or not self._joints or self._joints[-1][0] < image:
                return None
            return image

        image_time = self._hold_until(pose, found, time.monotonic() + timeout, should_stop)
        if image_time is None:
            if should_stop():
                return None
            raise no_image_error(timeout)
        if image_time >= moved_at:
            with self._lock:   # the joint states measured (NaN: not) as the SettleDetector
                before = [p for t, p in self._joints if t < moved_at and np.all(np.isfinite(p))]
                after = [p for t, p in self._joints
                         if moved_at <= t <= image_time and np.all(np.isfinite(p))]
            held = np.array(before[-1:] + after)
            if len(held) < 2 or np.max(np.ptp(held, axis=0)) >= self.still:
                return MOVED
        return Capture(image_time, request.settled, request.settled_time)


SECONDS = positive(unit='s')
SHORT_TIME = Check(lambda v: 0.0 <= v < 0.5, 'in [0, 0.5) s')
PARAMETERS = {
    'face_config': Parameter('', 'path of face_motors.yaml; empty = the workspace '
                             'config/face_motors.yaml'),
    'command_topic': Parameter('face/expression_command', 'topic the calibration '
                               'FaceCommands go to (the driver\'s command input)',
                               Check(bool, 'a topic name')),
    'command_rate': Parameter(50.0, 'rate of FaceCommands during moves and holds [Hz]',
                              positive(500.0, 'Hz')),
    'transition_time': Parameter(0.3, 'default time of the smooth move between poses [s] '
                                 '(lengthened when max_velocity needs it)', SECONDS),
    'settle_timeout': Parameter(1.0, 'default longest wait for joints to settle [s]',
                                SECONDS),
    'settle_window': Parameter(0.06, 'joints count as settled after being still this long '
                               '[s]', SECONDS),
    'settle_tolerance': Parameter(0.003, 'largest joint motion [rad] within settle_window '
                                  'that counts as still', positive(unit='rad')),
    'frame_delay': Parameter(0.03, 'a frame counts only if captured this long after '
                             'settling [s] (lets the skin follow the joints)',
                             Check(lambda v: 0.0 <= v < 5.0, 'in [0, 5) s')),
    'servo_lag': Parameter(0.03, 'time constant of the servos\' first-order position lag '
                           '[s], led during moves so joints stop when the commands do; 0 = '
                           'no lead', SHORT_TIME),
    'command_latency': Parameter(0.04, 'time from publishing a command to the servos acting '
                                 'on it [s]; moves are commanded that far ahead', SHORT_TIME),
    'frame_timeout': Parameter(3.0, 'longest wait for a camera frame after settling [s]; '
                               'then the goal aborts', SECONDS),
    'frame_overlap': Parameter(True, 'start the next move once the frame of a settled pose '
                               'is asked for on camera/trigger, not when it arrives (a frame '
                               'that shows the face moved is dropped and its pose babbled '
                               'again); false: wait for every frame'),
}


class CalibrationNode(Node):

    def __init__(self, **kwargs):
        super().__init__('calibration_node', **kwargs)
        p = declare_parameters(self, PARAMETERS, 'mirror_calibration.yaml')
        self.transition_time = p['transition_time']
        self.settle_timeout = p['settle_timeout']
        self.frame_timeout = p['frame_timeout']
        self.frame_overlap = p['frame_overlap']
        try:
            self.face = load_face_config(p['face_config'] or default_face_config_path())
        except ConfigError as exc:
            raise ParameterError(str(exc)) from exc
        self.meta = DatasetMeta.from_face_config(self.face, face_layout.LAYOUT_NAME,
                                                 len(face_layout.FACE_SUBSET))
        self._probe_node = Node(
            f'{self.get_name()}_probe', namespace=self.get_namespace(), context=self.context,
            start_parameter_services=False, parameter_overrides=[RosParameter(
                'use_sim_time', value=self.get_parameter('use_sim_time').value)])
        self.probe = BabbleProbe(self._probe_node, self.face, p['command_topic'],
                               p['command_rate'], p['settle_window'], p['settle_tolerance'],
                               p['frame_delay'], p['servo_lag'], p['command_latency'])
        self._probe_executor = SingleThreadedExecutor(context=self.context)
        self._probe_executor.add_node(self._probe_node)
        self._probe_thread = threading.Thread(target=self._probe_executor.spin, daemon=True)
        self._probe_thread.start()
        self._busy = threading.Lock()
        self._server = ActionServer(self, Babble, 'face/babble', self.execute,
                                    goal_callback=self.on_goal,
                                    cancel_callback=lambda _: CancelResponse.ACCEPT,
                                    callback_group=ReentrantCallbackGroup())

    def destroy_node(self):
        if hasattr(self, '_probe_executor'):   # absent when a bad parameter stopped __init__
            self._probe_executor.shutdown()
            self._probe_thread.join(timeout=5.0)
            self._probe_node.destroy_node()
        return super().destroy_node()

    def on_goal(self, goal):
        problem = self._goal_problem(goal)
        if problem:
            self.get_logger().error(f'Babble goal rejected: {problem}')
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _goal_problem(self, goal):
        if self._busy.locked():
            return 'a babbling session is already running; cancel it or wait'
        if goal.sample_count == 0:
            return 'sample_count is 0; ask for the total number of samples wanted'
        if not goal.dataset_path:
            return 'dataset_path is empty; name the dataset directory'
        for name, value in (('transition_time', goal.transition_time),
                            ('settle_timeout', goal.settle_timeout)):
            if not math.isfinite(value) or value < 0:
                return f'{name} {value} must be >= 0 s (0 = node default)'
        try:
            babbled_actuators(self.face, list(goal.groups))
        except BabbleError as exc:
            return str(exc)
        return ''

    def execute(self, goal_handle):
        with self._busy:
            return self._babble(goal_handle)

    def _finish(self, goal_handle, outcome, message, writer, written, no_face):
        result = Babble.Result(success=outcome == 'succeed', message=message,
                               dataset_path=goal_handle.request.dataset_path,
                               samples_written=written,
                               samples_total=writer.count if writer else 0,
                               frames_without_face=no_face)
        getattr(goal_handle, outcome)()
        log = self.get_logger().info if outcome == 'succeed' else self.get_logger().warn
        log(message)
        return result

    def _babble(self, goal_handle):
        goal = goal_handle.request
        written = no_face = 0
        try:
            writer = DatasetWriter(goal.dataset_path, self.meta)
        except (DatasetError, OSError) as exc:
            return self._finish(goal_handle, 'abort', f'cannot open dataset: {exc}', None,
                                0, 0)
        transition = goal.transition_time or self.transition_time
        settle_timeout = goal.settle_timeout or self.settle_timeout
        babbled = babbled_actuators(self.face, list(goal.groups))

        def stop():
            return goal_handle.is_cancel_requested or not self.context.ok()

        started = time.monotonic()
        initial = writer.count
        index = writer.next_index(goal.seed)
        poses, first = np.zeros((0, len(self.face.actuators))), 0
        pending = None   # (index, pose, Capture or FrameRequest) captured, not written yet
        moved_at = math.inf   # when the move after pending's pose began [s]
        overlap, asked, moved = self.frame_overlap, 0, 0
        try:
            current = self.probe.wait_for_mirror(should_stop=stop)
            while writer.count < goal.sample_count:
                if not self.context.ok():
                    return Babble.Result(success=False, message='node shut down',
                                         samples_written=written, samples_total=writer.count)
                if goal_handle.is_cancel_requested:
                    return self._finish(goal_handle, 'canceled',
                                        f'cancelled after {written} new samples; send the '
                                        'same goal again to resume', writer, written, no_face)
                more = writer.count + (pending is not None) < goal.sample_count
                if more:
                    if not first <= index < first + len(poses):
                        first = index
                        poses = babble_poses(self.face, babbled, goal.seed, index, POSE_BLOCK)
                    pose = poses[index - first]
                    if current is None or not np.all(np.isfinite(current)):
                        current = np.array([a.neutral for a in self.face.actuators])
                    moved_at = self.probe.now()
                    self.probe.move(current, pose,
                                    transition_time(self.face, current, pose, transition), stop)
                    current = pose
                if pending is not None:
                    sample, pending = pending, None
                    capture = sample[2]
                    if isinstance(capture, FrameRequest):   # asked for before this move
                        capture = self.probe.frame(capture, self.frame_timeout, current, stop,
                                                   moved_at if more else math.inf)
                        if capture is MOVED:
                            moved += 1
                            if overlap and moved >= OVERLAP_CHECK and moved > asked / 4:
                                overlap = False
                                self.get_logger().warn(
                                    f'{moved} of {asked} frames showed the face moving on '
                                    'to the next pose: the camera does not capture on '
                                    'camera/trigger; waiting for every frame from now on '
                                    '(set frame_overlap false for this camera)')
                    observed = None if capture is None or capture is MOVED else \
                        self.probe.observation(capture, self.frame_timeout, current, stop)
                    if observed is None:   # stopping, its frame was lost or showed the
                        index = sample[0]  # face moving on: pose it again
                        continue
                    detected = self._write(writer, goal.seed, sample[0], sample[1], observed)
                    written += 1
                    no_face += int(not detected)
                    self._feedback(goal_handle, writer.count, goal.sample_count,
                                   (time.monotonic() - started) / max(writer.count - initial, 1))
                if more:
                    capture = self._capture(pose, settle_timeout, stop, overlap and
                                            writer.count + 1 < goal.sample_count)
                    asked += isinstance(capture, FrameRequest)
                    if capture is not None:
                        pending = (index, pose, capture)
                        index += 1
        except ProbeError as exc:
            return self._finish(goal_handle, 'abort', f'{exc} ({written} samples were '
                                'written and kept)', writer, written, no_face)
        finally:
            writer.close()
        return self._finish(goal_handle, 'succeed',
                            f'{goal.dataset_path}: {written} new samples, {writer.count} in '
                            f'total ({no_face} frames without a face)', writer, written,
                            no_face)

    def _capture(self, pose, settle_timeout, stop, overlap):
        """The held pose's frame: a FrameRequest (overlap: the next move may start while
        the camera captures it) or a Capture (its image has arrived); None when stopping."""
        if not overlap:
            return self.probe.capture(pose, settle_timeout, self.frame_timeout, stop)
        request = self.probe.request_frame(pose, settle_timeout, self.frame_timeout, stop)
        if request is None or request.settled:
            return request
        # Not settled within settle_timeout: the frame is taken as it is (Capture.settled
        # False), so it is waited for before moving on.
        return self.probe.frame(request, self.frame_timeout, pose, stop)

    def _write(self, writer, seed, index, pose, observed):
        """Append one sample durably; returns whether its frame showed the face."""
        detected = observed.detected and observed.points.shape == (self.meta.point_count, 3)
        writer.append(index=index, seed=seed, detected=detected,
                      command_time=observed.settled_time, image_time=observed.image_time,
                      confidence=observed.confidence, face_size_px=observed.face_size_px,
                      commanded=pose, measured=observed.measured,
                      landmarks=observed.points if detected else np.nan)
        return detected

    def _feedback(self, goal_handle, total, requested, seconds_per_sample):
        feedback = Babble.Feedback(samples_total=total, samples_requested=requested,
                                   progress=min(total / requested, 1.0),
                                   eta=(requested - total) * seconds_per_sample)
        goal_handle.publish_feedback(feedback)


def main(args=None):
    spin_node(CalibrationNode, args, errors=(ParameterError,),
              executor=lambda: MultiThreadedExecutor(num_threads=3))
