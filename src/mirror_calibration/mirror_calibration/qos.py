"""QoS of this package's non-stream topics (streams use qos_profile_sensor_data)."""

from rclpy.qos import QoSProfile, ReliabilityPolicy

# Commands and landmarks feed motors and datasets: none may be lost between nodes.
COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LANDMARK_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def landmark_reader_qos(frames):
    """Reliable, holding `frames` landmark messages until the reader's executor takes them.

    A reader whose process is busy (babbling, a test recorder on a loaded machine) would
    otherwise lose frames once more than the publisher's depth arrive between two spins.
    """
    return QoSProfile(depth=frames, reliability=ReliabilityPolicy.RELIABLE)
