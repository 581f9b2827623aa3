"""QoS of the audio topic, one definition for every publisher and subscriber of it.

Audio is reliable with AUDIO_DEPTH chunks of history on both ends: a lost chunk is a wrong
mouth, and audio is small (20 ms at 16-48 kHz is a few KB), so keeping 256 chunks (5 s of
20 ms chunks, 2.5 s of 10 ms ones) costs little and rides out a busy subscriber. A speech
stack that publishes best effort is still heard by a subscription set to best effort
(lip_policy_node's audio_reliability): a reliable subscription does not match a best
effort publisher.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

AUDIO_DEPTH = 256  # [chunks]
RELIABILITY = {'reliable': ReliabilityPolicy.RELIABLE,
               'best_effort': ReliabilityPolicy.BEST_EFFORT}


def audio_qos(reliability='reliable', depth=AUDIO_DEPTH):
    """The QoS profile of /audio ('reliable' or 'best_effort')."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=RELIABILITY[reliability],
                      durability=DurabilityPolicy.VOLATILE)
