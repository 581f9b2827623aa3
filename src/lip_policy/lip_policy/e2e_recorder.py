"""lip-e2e-eval's recorder: what the running face did, as it came over DDS.

Recorder subscribes to the audio the player (or the speech node) sends, the lip commands,
the joint states, the observer's landmarks (and camera images for --video) and the lip
policy's and the speech node's /diagnostics status, and refuses to record when another node
graph on the same ROS domain would mix its messages in. With say=True it is also the Say
action client of speech_node (say(): one goal, its feedback and its result).
health_figures turns a status into numbers for the report.
"""

import dataclasses
import os
import time

POLICY_STATUS = 'lip_policy: audio'  # name of lip_policy_node's /diagnostics status
SPEECH_STATUS = 'face_speech: output'  # name of speech_node's /diagnostics status
SAY_ACTION = 'speech/say'
GOAL_STATUS = {4: 'succeeded', 5: 'canceled', 6: 'aborted'}  # action_msgs/GoalStatus


@dataclasses.dataclass
class SaidGoal:
    """One Say goal as the client saw it; times on the system clock [s]."""

    sent: float  # when the goal was sent
    status: str  # 'succeeded', 'canceled', 'aborted' (or the status number)
    result: object  # face_msgs/Say.Result
    feedback: list  # [(time received, Say.Feedback)]
    answered: float  # when the result arrived


class E2EError(RuntimeError):
    """The evaluation cannot run; the text says what is missing."""


class Recorder:
    """Records audio stamps, lip commands, joint states and landmarks over DDS."""

    def __init__(self, context, images=False, say=False):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import Image, JointState

        from face_common.qos import audio_qos
        from face_msgs.msg import AudioChunk, FaceCommand, FaceLandmarks

        self.node = rclpy.create_node('lip_e2e_recorder', context=context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.audio, self.commands, self.joints, self.landmarks = [], [], [], []
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(AudioChunk, 'audio', self.audio.append, audio_qos())
        self.node.create_subscription(FaceCommand, 'face/lip_command', self.commands.append,
                                      reliable)
        self.node.create_subscription(JointState, 'face/joint_states', self.joints.append, 50)
        self.node.create_subscription(FaceLandmarks, 'face/landmarks', self.landmarks.append,
                                      reliable)
        self.policy_health = None  # the lip policy's newest /diagnostics status
        self.speech_health = None  # the speech node's newest /diagnostics status
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                      reliable)
        # camera/image_raw messages for --video, kept as they came: decoding (a copy of every
        # frame) waits until the run is over and the CPU is the policy's no longer
        self.images = []
        if images:
            self.node.create_subscription(Image, 'camera/image_raw', self.images.append,
                                          qos_profile_sensor_data)
        self.say_client = None
        if say:
            from rclpy.action import ActionClient

            from face_msgs.action import Say

            self.say_client = ActionClient(self.node, Say, SAY_ACTION)

    def _on_diagnostics(self, msg):
        for status in msg.status:
            if status.name.endswith(POLICY_STATUS):
                self.policy_health = status
            elif status.name.endswith(SPEECH_STATUS):
                self.speech_health = status

    def say(self, goal, seconds, nodes=()):
        """Send a Say goal and spin until its result (at most `seconds`): -> SaidGoal."""
        feedback = []
        sent = time.time()
        accepted = self.say_client.send_goal_async(
            goal, feedback_callback=lambda m: feedback.append((time.time(), m.feedback)))
        if not self.spin(10.0, accepted.done, nodes):
            raise E2EError(f'speech_node did not answer the Say goal on {SAY_ACTION} in 10 s')
        handle = accepted.result()
        if not handle.accepted:
            raise E2EError('speech_node refused the Say goal')
        done = handle.get_result_async()
        if not self.spin(seconds, done.done, nodes):
            handle.cancel_goal_async()
            self.spin(1.0, nodes=nodes)
            raise E2EError(f'the Say goal gave no result within {seconds:.0f} s '
                           f'({len(feedback)} feedback messages arrived)')
        status = done.result().status
        return SaidGoal(sent, GOAL_STATUS.get(status, str(status)), done.result().result,
                        feedback, time.time())

    def require_alone(self, own):
        """Refuse when a topic has more publishers than this evaluation started (`own`:
        topic -> count): another graph on this ROS domain would mix its messages in."""
        extra = {topic: self.node.count_publishers(topic) for topic in own}
        extra = {topic: count for topic, count in extra.items() if count > own[topic]}
        if extra:
            found = ', '.join(f'{count} publishers on {topic}' for topic, count in extra.items())
            raise E2EError(f'another node graph is running on ROS domain '
                           f'{os.environ.get("ROS_DOMAIN_ID", "0")} ({found}); its messages '
                           'would mix with this evaluation\'s. Stop it, or run lip-e2e-eval '
                           'with ROS_DOMAIN_ID set to a free domain.')

    def spin(self, seconds, until=None, nodes=()):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.02)
            for node in nodes:
                if node.process.poll() is not None and node is not getattr(self, 'player',
                                                                              None):
                    raise E2EError(f'a node exited early:\n{node.output()[-3000:]}')
            if until is not None and until():
                return True
        return False


def health_figures(status, node='lip_policy_node'):
    """A node's /diagnostics status as {key: number} (plus level and message)."""
    if status is None:
        return {'level': 'none', 'message': f'{node} sent no /diagnostics'}
    figures = {'level': ('OK', 'WARN', 'ERROR', 'STALE')[min(status.level[0], 3)],
               'message': status.message}
    for pair in status.values:
        try:
            figures[pair.key] = float(pair.value) if '.' in pair.value else int(pair.value)
        except ValueError:
            figures[pair.key] = pair.value
    return figures
