"""QoS of the face's topics: one definition for every publisher and subscriber of each.

Streams of measurements (camera/image_raw, face/joint_states) use rclpy's
qos_profile_sensor_data; everything that must not be lost between nodes is reliable:

- commands (face/lip_command, face/expression_command) and landmarks feed motors and
  datasets: reliable, depth 10 (command_qos(depth) for a publisher or reader that must
  ride out a longer busy moment);
- a reader of landmarks whose process is busy (babbling, a test recorder on a loaded
  machine) holds `frames` messages until its executor takes them (landmark_reader_qos);
- camera/trigger asks for one frame: reliable, depth 1;
- /audio is reliable with AUDIO_DEPTH chunks of history on both ends: a lost chunk is a
  wrong mouth, and audio is small (20 ms at 16-48 kHz is a few KB), so keeping 256 chunks
  (5 s of 20 ms chunks, 2.5 s of 10 ms ones) costs little and rides out a busy subscriber.
  A speech stack that publishes best effort is still heard by a subscription set to best
  effort (lip_policy_node's audio_reliability): a reliable subscription does not match a
  best effort publisher.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

AUDIO_DEPTH = 256  # [chunks]
RELIABILITY = {'reliable': ReliabilityPolicy.RELIABLE,
               'best_effort': ReliabilityPolicy.BEST_EFFORT}


def command_qos(depth=10):
    """Reliable, keeping the last `depth` messages: commands, landmarks."""
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)


COMMAND_QOS = command_qos()
LANDMARK_QOS = command_qos()
TRIGGER_QOS = command_qos(1)


def landmark_reader_qos(frames):
    """Reliable, holding `frames` landmark messages until the reader's executor takes them.

    A reader whose process is busy (babbling, a test recorder on a loaded machine) would
    otherwise lose frames once more than the publisher's depth arrive between two spins.
    """
    return command_qos(frames)


def audio_qos(reliability='reliable', depth=AUDIO_DEPTH):
    """The QoS profile of /audio ('reliable' or 'best_effort')."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=RELIABILITY[reliability],
                      durability=DurabilityPolicy.VOLATILE)
