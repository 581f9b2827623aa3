"""QoS of this package's non-stream topics (streams use qos_profile_sensor_data)."""

from rclpy.qos import QoSProfile, ReliabilityPolicy

# Commands and landmarks feed motors and datasets: none may be lost between nodes.
COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LANDMARK_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
