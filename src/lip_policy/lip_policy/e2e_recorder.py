"""lip-e2e-eval's recorder: what the running face did, as it came over DDS.

Recorder subscribes to the audio the player sends, the lip commands, the joint states, the
observer's landmarks (and camera images for --video) and the lip policy's /diagnostics
status, and refuses to record when another node graph on the same ROS domain would mix its
messages in. health_figures turns that status into numbers for the report.
"""

import os
import time

POLICY_STATUS = 'lip_policy: audio'  # name of lip_policy_node's /diagnostics status


class E2EError(RuntimeError):
    """The evaluation cannot run; the text says what is missing."""


class Recorder:
    """Records audio stamps, lip commands, joint states and landmarks over DDS."""

    def __init__(self, context, images=False):
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
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                      reliable)
        # camera/image_raw messages for --video, kept as they came: decoding (a copy of every
        # frame) waits until the run is over and the CPU is the policy's no longer
        self.images = []
        if images:
            self.node.create_subscription(Image, 'camera/image_raw', self.images.append,
                                          qos_profile_sensor_data)

    def _on_diagnostics(self, msg):
        for status in msg.status:
            if status.name.endswith(POLICY_STATUS):
                self.policy_health = status

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


def health_figures(status):
    """The lip policy's /diagnostics status as {key: number} (plus level and message)."""
    if status is None:
        return {'level': 'none', 'message': 'lip_policy_node sent no /diagnostics'}
    figures = {'level': ('OK', 'WARN', 'ERROR', 'STALE')[min(status.level[0], 3)],
               'message': status.message}
    for pair in status.values:
        try:
            figures[pair.key] = float(pair.value) if '.' in pair.value else int(pair.value)
        except ValueError:
            figures[pair.key] = pair.value
    return figures
