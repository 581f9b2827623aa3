"""calibration_node: serves the Babble action on /face/babble.

For each pose of the seeded space-filling sequence it moves the face smoothly there (as a
FaceCommand with SOURCE_CALIBRATION), holds it until the measured joints settle and the
camera has captured a frame after that, and appends (commanded, measured at the frame's
time, landmarks of that frame) to the dataset. The move to the next pose starts as soon as
the frame is captured: the observer's landmarks of it arrive during that move (70 ms after
capture, 200 ms on a busy machine) and are matched by the frame's stamp, and the sample is
written then, before the next frame is taken. Samples are written in pose order, so a
resumed dataset continues after its last sample; a sample whose frame the observer skipped
is posed again. Feedback reports progress after every sample written. One goal runs at a
time; a goal for an existing dataset resumes it.

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
from mirror_calibration.face_probe import FaceProbe, ProbeError

POSE_BLOCK = 64  # poses generated at a time (the sequence is resumable at any index)


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
}


class CalibrationNode(Node):

    def __init__(self, **kwargs):
        super().__init__('calibration_node', **kwargs)
        p = declare_parameters(self, PARAMETERS, 'mirror_calibration.yaml')
        self.transition_time = p['transition_time']
        self.settle_timeout = p['settle_timeout']
        self.frame_timeout = p['frame_timeout']
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
        self.probe = FaceProbe(self._probe_node, self.face, p['command_topic'],
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
        pending = None   # (index, pose, Capture) captured, not written yet
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
                    self.probe.move(current, pose,
                                    transition_time(self.face, current, pose, transition), stop)
                    current = pose
                if pending is not None:
                    sample, pending = pending, None
                    observed = self.probe.observation(sample[2], self.frame_timeout,
                                                      current, stop)
                    if observed is None:   # stopping, or its frame was lost: pose it again
                        index = sample[0]
                        continue
                    detected = self._write(writer, goal.seed, sample[0], sample[1], observed)
                    written += 1
                    no_face += int(not detected)
                    self._feedback(goal_handle, writer.count, goal.sample_count,
                                   (time.monotonic() - started) / max(writer.count - initial, 1))
                if more:
                    capture = self.probe.capture(pose, settle_timeout, self.frame_timeout,
                                                 stop)
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
