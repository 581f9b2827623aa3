"""lip_policy_node: audio on /audio -> lip actuator commands on /face/lip_command.

A thin ROS shell around lip_policy.lip_command.LipPolicy: it loads the lip model, the
self-model and the retargeting, turns face_msgs/AudioChunk into lip poses and publishes
face_msgs/FaceCommand for the jaw and lip actuators only: at once when audio has been
processed (lowest latency) and otherwise at command_rate. When the lips rest at neutral it
publishes nothing, so the driver's own timeout and other nodes own the face again.

Holding up under load: /audio is reliable with seconds of history (face_common.qos), the
subscription callback only hands each chunk to a worker thread (audio_intake.ChunkInbox),
and the worker pushes everything pending through the model in one go, in playback order,
holding a chunk after a gap while the missing one can still arrive in time (Reorder).
When the worker is behind the audio (its oldest chunk waited more than hurry_after and
its first frame is about due) it skips the inverse refinement for that batch: the lips
keep their timing and lose some precision (closures less crisp) until it has caught up.
Lost audio keeps its time; the lips hold their pose through it. The node reports how it
keeps up on /diagnostics once a second (policy_health). All ROS callbacks run on the
executor thread; the policy itself is only touched by the worker.

Timing: the pose sent at `now` is the one for audio time now + actuator_lag, because the
servos trail their goals by that much. reach_time is when the driver should have the GOAL
there: by the next command (now + 1 / command_rate), so the driver moves the goal smoothly
between commands instead of jumping. (Stamping the audio time itself would make the driver
spread every goal over the whole actuator lag, adding that much delay again: measured with
lip-e2e-eval, the lips then trailed the audio by 25 ms more.)
"""

import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time

from face_common import scheduling
from face_common.frames import FRAME_PERIOD
from face_common.parameters import (
    Check,
    Parameter,
    ParameterError,
    between,
    declare_parameters,
    diagnostics_rate_parameter,
    one_of,
    scheduling_parameters,
)
from face_common.qos import AUDIO_DEPTH, RELIABILITY, audio_qos
from face_common.spin import spin_node
from face_common.time import stamp_seconds
from face_msgs.msg import AudioChunk, FaceCommand
from lip_policy.audio_intake import ChunkInbox, Reorder
from lip_policy.lip_command import ChunkError, PolicyConfig
from lip_policy.metrics import CLOSED_FRACTION
from lip_policy.policy_health import PolicyHealth

# [s] added to the actuator lag for how long a chunk after a gap is held for the missing one:
# the frames after the gap still have to be computed before they are commanded.
REORDER_MARGIN = 0.02
COMMAND_HISTORY = 100  # lip commands kept for late subscribers (1 s at command_rate 100)
FIRST_FRAME_COST = 0.002  # [s] compute per frame assumed until one is measured


SECONDS_10 = between(0.0, 10.0, 's')
PARAMETERS = {
    'lip_model': Parameter('', 'audio->lip model checkpoint; "" = models/lip_model.pt of the '
                           'workspace'),
    'self_model': Parameter('', 'self-model checkpoint; "" = models/self_model_sim.pt of the '
                            'workspace'),
    'retarget': Parameter('', 'retargeting file (python -m lip_policy.retarget); "" = '
                          'models/retarget.npz of the workspace'),
    'actuator_lag': Parameter(-1.0, 'commands lead the audio by this [s]; < 0 = the lag '
                              'measured during calibration (self-model metadata '
                              'actuator_lag), else 0.045',
                              Check(lambda v: -1.0 <= v <= 1.0,
                                    'a lag in [0, 1] s, or -1 for the calibrated one')),
    'servo_time_constant': Parameter(-1.0, 'first-order time constant of the servos [s], '
                                     'undone by feed-forward (pose + constant x its rate); 0 = '
                                     'off; < 0 = the one mirror-lag measured (self-model '
                                     'metadata servo_time_constant), else 0',
                                     Check(lambda v: -1.0 <= v <= 0.5,
                                           'a time in [0, 0.5] s, or -1')),
    'command_rate': Parameter(100.0, 'lip commands per second while the lips move [Hz]',
                              between(1.0, 1000.0, 'Hz')),
    'stall_timeout': Parameter(0.25, 'audio missing this long for the commanded time -> ease '
                               'to neutral [s]', between(0.02, 10.0, 's')),
    'ease_time': Parameter(0.3, 'time to ease to neutral after a stall [s]', SECONDS_10),
    'silence_threshold_db': Parameter(-45.0, 'audio below this RMS level is silence [dBFS]',
                                      between(-120.0, 0.0, 'dBFS')),
    'silence_hold': Parameter(0.25, 'pauses shorter than this keep the lips moving [s]',
                              SECONDS_10),
    'voice_attack': Parameter(0.05, 'neutral -> full lip motion when the voice starts [s]',
                              between(0.0, 2.0, 's')),
    'silence_release': Parameter(0.3, 'full lip motion -> neutral in silence [s]', SECONDS_10),
    'max_gap': Parameter(0.5, 'stamp gaps (lost chunks) up to this are filled with silence '
                         '[s]', SECONDS_10),
    'max_chunk_duration': Parameter(2.0, 'longer audio chunks are rejected [s]',
                                    between(0.01, 60.0, 's')),
    'pose_smoothing': Parameter(2, 'frames (10 ms) each side of the zero-phase smoothing of '
                                'the lip poses, which keeps per-frame jitter from the servos\' '
                                'slew limits; a pose is final this many frames later; 0 = off',
                                between(0, 10)),
    'pacing': Parameter(1.0, 'fraction of each lip actuator\'s max_velocity (face_config) the '
                        'commanded poses keep to; fast moves are centred on their time instead '
                        'of trailing behind the driver\'s slew limit; 0 = off',
                        between(0.0, 1.0)),
    'seal_hold': Parameter(0.0, 'where the retargeted lips read sealed (/p b m/), the sealed '
                           'pose is held this long around the frame, reached and left within '
                           'the speed limits, so a 30 Hz camera sees it (2 frames: 0.067 s) '
                           '[s]; 0 = off', between(0.0, 0.5, 's')),
    'seal_gap': Parameter(CLOSED_FRACTION, 'retargeted lips read sealed below this inner-lip '
                          'gap, a fraction of the robot\'s rest mouth width (lip_policy.'
                          'metrics\' closed threshold)', between(0.0, 0.5)),
    'face_config': Parameter('', 'actuator file whose max_velocity the pacing keeps to; "" = '
                             'config/face_motors.yaml of the workspace'),
    'inverse_refine_steps': Parameter(3, 'damped Gauss-Newton steps refining the inverse '
                                      'self-model through the forward model per frame (lip '
                                      'points and inner-lip gaps); 0 = the network alone',
                                      between(0, 50)),
    'priority': Parameter(0, 'FaceCommand priority; 0 = the driver\'s lip priority',
                          between(0, 255)),
    'threads': Parameter(1, 'CPU threads for the models', between(1, 16)),
    'audio_reliability': Parameter('reliable', 'QoS reliability of the audio subscription: '
                                   'reliable, or best_effort for a speech stack that publishes '
                                   'best effort', one_of(RELIABILITY)),
    'audio_depth': Parameter(AUDIO_DEPTH, 'chunks of history of the audio subscription (2 s '
                             'or more of chunks rides out a busy moment)', between(1, 10000)),
    'hurry_after': Parameter(0.04, 'audio that waited longer than this for the worker, with '
                             'its frames about due, is pushed through without the inverse '
                             'refinement, to catch up [s]', SECONDS_10),
    'hop_budget': Parameter(0.008, 'compute per 10 ms lip frame (p99) above which /diagnostics '
                            'warns: less than 20 % of real time left [s]',
                            between(0.0001, 1.0, 's')),
    **diagnostics_rate_parameter(1.0),
    **scheduling_parameters(10, "below the audio source's and the driver's"),
}


class LipPolicyNode(Node):
    def __init__(self, **kwargs):
        super().__init__('lip_policy', **kwargs)
        self.p = declare_parameters(self, PARAMETERS, 'lip_policy.yaml')
        from lip_policy.predictor import limit_math_threads

        limit_math_threads(self.p['threads'])  # torch's pools and numpy's BLAS alike
        self.policy = self._load_policy()
        # Reliable with a second of history: a reliable writer can only resend what its
        # history still holds, and a busy subscriber (a recorder, a monitor) must not lose
        # commands because it acknowledged them late.
        self.publisher = self.create_publisher(
            FaceCommand, 'face/lip_command',
            QoSProfile(depth=COMMAND_HISTORY, reliability=ReliabilityPolicy.RELIABLE))
        self.diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.health = PolicyHealth(self.p['hop_budget'])
        self.period = 1.0 / self.p['command_rate']
        self.warned = {}  # kind of problem -> when it was last logged [s]
        self.inbox = ChunkInbox()
        config = self.policy.config
        self.reorder = Reorder(config.actuator_lag + REORDER_MARGIN, config.stamp_tolerance,
                               config.max_gap)
        self.create_subscription(AudioChunk, 'audio', self._on_audio,
                                 audio_qos(self.p['audio_reliability'], self.p['audio_depth']))
        self._stopping = threading.Event()
        self.worker_error = None
        self._worker = threading.Thread(target=self._work, name='lip_policy_worker',
                                        daemon=True)
        self._worker.start()
        self.get_logger().info(
            f'lip policy ready: {len(self.policy.names)} lip actuators, '
            f'{self.p["command_rate"]:.0f} Hz, actuator lag '
            f'{self.policy.config.actuator_lag * 1000:.0f} ms, servo feed-forward '
            f'{self.policy.config.servo_time_constant * 1000:.0f} ms, pacing '
            f'{self.policy.config.pacing:.2f} x max_velocity, seal hold '
            f'{self.policy.hold_frames * 10} ms, model look-ahead '
            f'{self.policy.predictor.lookahead_frames * 10} ms, audio '
            f'{self.p["audio_reliability"]} depth {self.p["audio_depth"]}')

    def _load_policy(self):
        from lip_policy.runtime_models import load_runtime_models

        models = load_runtime_models(self.p['lip_model'], self.p['self_model'],
                                     self.p['retarget'], self.p['inverse_refine_steps'])
        lag, measured = models.actuator_lag(self.p['actuator_lag'])
        if not measured:
            self.get_logger().warning(
                f'the self-model holds no measured actuator_lag; using {lag * 1000:.0f} '
                'ms (set actuator_lag to the lag of this face)')
        tau = models.servo_time_constant(self.p['servo_time_constant'])
        keys = ('pose_smoothing', 'pacing', 'seal_hold', 'seal_gap', 'stall_timeout',
                'ease_time', 'silence_threshold_db', 'silence_hold', 'voice_attack',
                'silence_release', 'max_gap', 'max_chunk_duration')
        config = PolicyConfig(actuator_lag=float(lag), servo_time_constant=tau,
                              **{k: self.p[k] for k in keys})
        try:
            config.validate()
        except ValueError as error:
            raise ParameterError(str(error)) from error
        return models.lip_policy(config, self.p['face_config'])

    def _now(self):
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_audio(self, msg):
        # Only hand over: the executor thread must always be free to take the next chunk.
        self.inbox.put(msg, self._now())

    # --- the worker: the only thread that touches the policy ------------------------------
    def _work(self):
        next_command = time.monotonic()
        next_report = time.monotonic()
        while not self._stopping.is_set():
            received = self.inbox.take(max(0.0, next_command - time.monotonic()))
            try:
                if self._push(received):  # commanded now: the next one a period later
                    next_command = time.monotonic() + self.period
                if time.monotonic() >= next_command:
                    self._publish(self._now())
                    # A late wake-up does not send a burst of commands to catch up.
                    next_command = max(next_command + self.period,
                                       time.monotonic() + 0.5 * self.period)
                if time.monotonic() >= next_report:
                    self._report()
                    next_report = time.monotonic() + 1.0 / self.p['diagnostics_rate']
            except Exception as error:  # noqa: BLE001 - any failure must end the node
                if self._stopping.is_set() or not self.context.ok():
                    return  # shutting down: publishers are gone
                # A node whose worker died would look alive and never move the lips again:
                # end it so its supervisor (face-bringup, launch) sees it and says why.
                self.worker_error = error
                self.get_logger().fatal(f'lip policy worker failed: {error!r}')
                self.context.try_shutdown()
                return

    def _push(self, received):
        """Accept what arrived, push what is ready; True when a command went out."""
        now = self._now()
        for msg, arrived in received:
            try:
                arrival = self.policy.accept(msg, stamp_seconds(msg.header.stamp), now)
            except ChunkError as error:
                self._warn(f'dropped audio chunk {msg.sequence}: {error}', now)
                continue
            self.reorder.add(arrival, arrived)
        segment = self.policy.segment
        ready, oldest = self.reorder.take(None if segment is None else segment.end_time, now)
        if not ready:
            return False
        hurry = self._behind(ready, oldest, now)
        for note in self.policy.push_many(ready, hurry):
            self._warn(note, now)
        self._publish(self._now())
        return True

    def _behind(self, ready, oldest, now):
        """The worker is behind the audio: the oldest chunk waited more than hurry_after
        and the first frame will be due before the batch is done at full cost."""
        if now - oldest <= self.p['hurry_after']:
            return False
        seconds = sum(len(a.mono) / a.rate for a in ready)
        per_frame = self.policy.hop_compute_ms() / 1000
        if not per_frame > 0:  # nothing measured yet
            per_frame = FIRST_FRAME_COST
        cost = seconds / FRAME_PERIOD * per_frame
        segment = self.policy.segment
        first = ready[0].stamp if segment is None else segment.next_frame_time
        return first - self.policy.config.actuator_lag - now < cost

    def _warn(self, text, now):
        # At most one line per second per kind of problem: a broken publisher sending 50
        # bad chunks a second must not flood the log, yet every kind of problem shows.
        kind = text.split(':')[-1][:40]
        if now - self.warned.get(kind, -1e9) >= 1.0:
            self.warned[kind] = now
            self.get_logger().warning(text)

    def _publish(self, now):
        command = self.policy.command(now)
        if command is None:
            return
        msg = FaceCommand()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.source = FaceCommand.SOURCE_LIP
        msg.priority = self.p['priority']
        msg.name = list(self.policy.names)
        msg.position = [float(x) for x in command.positions]
        reach = now + self.period
        msg.reach_time = Time(nanoseconds=round(reach * 1e9)).to_msg()
        self.publisher.publish(msg)

    def _report(self):
        backlog = len(self.inbox) + len(self.reorder)
        report = self.health.report(self.policy.counts, self.policy.compute_seconds,
                                    self.policy.hurried_seconds, backlog,
                                    self.reorder.seconds())
        status = DiagnosticStatus(level=bytes([report.level]), name=f'{self.get_name()}: audio',
                                  hardware_id='lip_policy', message=report.message)
        status.values = [KeyValue(key=k, value=str(v)) for k, v in report.values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(array)
        self.last_report = report

    def stop(self):
        """Stop the worker (before destroy_node)."""
        self._stopping.set()
        self.inbox.wake()
        if self._worker.is_alive() and self._worker is not threading.current_thread():
            self._worker.join(timeout=5.0)

    def destroy_node(self):
        self.stop()
        return super().destroy_node()

    def summary(self):
        c = self.policy.counts
        return (f'{c["chunks"]} chunks, {c["rejected"]} rejected, {c["lost_chunks"]} lost, '
                f'{c["late"]} late, {c["duplicates"]} duplicates, {c["gaps_filled"]} gaps '
                f'filled, {c["segments"]} streams, {c["hurried_frames"]} frames hurried; '
                f'model + retargeting {self.policy.hop_compute_ms():.2f} ms per 10 ms frame '
                '(median)')


def main(args=None):
    from face_motor_driver.face_config import ConfigError
    from lip_policy.predictor import CheckpointError
    from lip_policy.retarget import RetargetError
    from mirror_calibration.self_model import SelfModelError

    def stopping(node):
        # The context may already be shut down (SIGINT): print, as /rosout is gone.
        print(f'lip_policy_node: {node.summary()}', file=sys.stderr)
        return 1 if node.worker_error is not None else 0

    spin_node(LipPolicyNode, args, (ParameterError, CheckpointError, SelfModelError,
                                    RetargetError, ConfigError),
              name='lip_policy_node', stopping=stopping,
              started=lambda node: node.get_logger().info(scheduling.apply(
                  node.p['scheduling'], node.p['realtime_priority'])))


if __name__ == '__main__':
    main()
