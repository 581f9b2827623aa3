"""No message stops the simulated head, the observer or the calibration node: every
subscription of face_sim_node (face/joint_states, camera/trigger), observer_node
(camera/image_raw) and calibration_node (its mirror probe: face/joint_states,
camera/image_raw, face/landmarks) gets 10,000 messages per type with every field fuzzed
(NaN, infinite and huge positions, unknown, repeated and odd names, mismatched arrays,
negative and huge stamps; images with any encoding, sizes that do not match their data,
zero and huge sizes, odd steps; landmarks of any count, NaN points, unknown layouts), over
DDS, to the real node processes.

After the flood all three nodes are still running, face_sim_node still renders the face for the
joint states it is sent (camera images keep coming), and the observer still finds the face
in them: a message a node cannot use is dropped with a warning, nothing else changes.
"""

import math
import time

import numpy as np
import pytest

from face_common.node_processes import NodeProcess
from face_common.waiting import wait_until
from face_common.workspace import config_dir
from face_motor_driver.face_config import default_face_config_path, load_face_config

pytestmark = [pytest.mark.ros, pytest.mark.realtime]
FACE = load_face_config(default_face_config_path())
MESSAGES = 10_000  # per topic
SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 0.0, -0.0, 1e9]
ODD_NAMES = ['', ' ', 'jaw_open ', 'JAW_OPEN', 'ünïcødé', 'a' * 300, '\x00', 'jaw_open\n']
ENCODINGS = ['rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8', '16UC1', 'yuv422', '', 'ünï', 'rgb8 ']


def fuzzed_joint_states(rng, count):
    from sensor_msgs.msg import JointState

    now = int(time.time())
    times = [-2**31, -1, 0, now, now - 5, now + 5, 2**31 - 1]
    pool = list(FACE.names) + ODD_NAMES
    for _ in range(count):
        msg = JointState()
        size = int(rng.choice([0, 1, 5, 26, 3000], p=[.1, .3, .3, .29, .01]))
        msg.name = [pool[i] for i in rng.integers(0, len(pool), size)]
        length = max(0, size + int(rng.choice([0, 0, 0, -1, 1])))
        values = rng.choice(SPECIAL_FLOATS + [0.1, -0.3], length)
        msg.position = [float(v) for v in values]
        msg.velocity = [float(v) for v in rng.choice(SPECIAL_FLOATS, int(rng.integers(0, 3)))]
        msg.header.stamp.sec = int(rng.choice(times))
        msg.header.stamp.nanosec = int(rng.choice([0, 999_999_999, 2**32 - 1]))
        yield msg


def fuzzed_triggers(rng, count):
    from std_msgs.msg import Header

    now = int(time.time())
    for _ in range(count):
        msg = Header()
        msg.stamp.sec = int(rng.choice([-2**31, -1, 0, now, now + 3600, 2**31 - 1]))
        msg.stamp.nanosec = int(rng.choice([0, 500_000_000, 2**32 - 1]))
        msg.frame_id = str(rng.choice(['', 'camera', 'x' * 1000]))
        yield msg


def fuzzed_landmarks(rng, count):
    from geometry_msgs.msg import Point

    from face_msgs.msg import FaceLandmarks

    now = int(time.time())
    layouts = [FaceLandmarks.LAYOUT_FACE_SUBSET, FaceLandmarks.LAYOUT_MEDIAPIPE_478, '', 'x']
    for _ in range(count):
        msg = FaceLandmarks(layout=str(rng.choice(layouts)), detected=bool(rng.integers(0, 2)))
        msg.confidence = float(rng.choice(SPECIAL_FLOATS))
        msg.face_size_px = float(rng.choice(SPECIAL_FLOATS))
        size = int(rng.choice([0, 1, 97, 98, 478, 5000], p=[.2, .1, .1, .4, .19, .01]))
        values = rng.choice(SPECIAL_FLOATS + [0.1, -0.5], (size, 3))
        msg.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in values]
        msg.header.stamp.sec = int(rng.choice([-2**31, -1, 0, now, 2**31 - 1]))
        yield msg


def fuzzed_images(rng, count):
    from sensor_msgs.msg import Image

    for _ in range(count):
        msg = Image()
        msg.encoding = str(rng.choice(ENCODINGS))
        msg.width = int(rng.choice([0, 1, 3, 64, 100_000, 2**32 - 1]))
        msg.height = int(rng.choice([0, 1, 2, 48, 100_000, 2**32 - 1]))
        msg.step = int(rng.choice([0, 1, 3 * 64, 2**32 - 1, msg.width * 3 % 2**32]))
        msg.is_bigendian = int(rng.integers(0, 2))
        size = int(rng.choice([0, 1, 64 * 48 * 3, 64 * 48 * 3 - 1, 20_000]))
        msg.data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        yield msg


class Fuzzer:
    """Publishes the fuzzed messages and keeps what the two nodes publish."""

    def __init__(self, context):
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Header

        from face_msgs.msg import FaceLandmarks

        self.node = Node('subscription_fuzzer', context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.images, self.faces = [], []
        self.node.create_subscription(
            Image, 'camera/image_raw',
            lambda m: self.images.append(m.header.stamp) if m.width == 480 else None,
            qos_profile_sensor_data)
        self.node.create_subscription(
            FaceLandmarks, 'face/landmarks',
            lambda m: self.faces.append(m.detected), 100)
        self.joints = self.node.create_publisher(JointState, 'face/joint_states', 100)
        self.triggers = self.node.create_publisher(Header, 'camera/trigger', 100)
        self.camera = self.node.create_publisher(Image, 'camera/image_raw',
                                                 qos_profile_sensor_data)
        self.landmarks = self.node.create_publisher(FaceLandmarks, 'face/landmarks', 100)

    def spin(self, seconds=0.0):
        end = time.monotonic() + seconds
        while True:
            self.executor.spin_once(timeout_sec=0.01)
            if time.monotonic() >= end:
                return

    def neutral_joint_states(self):
        from sensor_msgs.msg import JointState

        msg = JointState(name=list(FACE.names), position=[a.neutral for a in FACE.actuators])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.joints.publish(msg)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.fixture
def fuzzer():
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context)
    fuzzer = Fuzzer(context)
    yield fuzzer
    fuzzer.close()
    rclpy.try_shutdown(context=context)


def test_no_message_stops_the_simulated_head_or_the_observer(fuzzer):
    config = config_dir()
    head = NodeProcess('face_sim_node', {'rate_hz': 10.0},
                       params_file=config / 'face_sim.yaml')
    observer = NodeProcess('observer_node', params_file=config / 'mirror_calibration.yaml')
    calibration = NodeProcess('calibration_node',
                              params_file=config / 'mirror_calibration.yaml')
    nodes = (head, observer, calibration)
    with head, observer, calibration:
        def face_seen():
            fuzzer.neutral_joint_states()
            return any(fuzzer.faces)

        wait_until(face_seen, 120, 'the observer finding the simulated face',
                   step=lambda: fuzzer.spin(0.1))
        rng = np.random.default_rng(7)
        floods = ((fuzzer.joints, fuzzed_joint_states(rng, MESSAGES)),
                  (fuzzer.triggers, fuzzed_triggers(rng, MESSAGES)),
                  (fuzzer.camera, fuzzed_images(rng, MESSAGES)),
                  (fuzzer.landmarks, fuzzed_landmarks(rng, MESSAGES)))
        for publisher, messages in floods:
            for k, msg in enumerate(messages):
                publisher.publish(msg)
                if k % 50 == 0:
                    fuzzer.spin()
        # A publisher inventing names: warned about a bounded number of times.
        from sensor_msgs.msg import JointState

        ghosts = [f'ghost_{k}' for k in range(300)]
        fuzzer.joints.publish(JointState(name=ghosts, position=[0.0] * len(ghosts)))
        for node in nodes:
            node.check_running()
        # The head still renders what it is sent, the observer still sees the face in it.
        fuzzer.images.clear()
        fuzzer.faces.clear()
        wait_until(lambda: (fuzzer.neutral_joint_states(), len(fuzzer.images) >= 5)[1]
                   and sum(fuzzer.faces) >= 3, 120,
                   'camera images and detected faces after the flood',
                   step=lambda: fuzzer.spin(0.1))
        for node in nodes:
            node.check_running()
        log = head.output() + observer.output() + calibration.output()
        assert 'Traceback' not in log, log[-3000:]
        # The flood arrived and was refused with a reason, not silently lost.
        assert 'dropped a JointState' in head.output(), head.output()[-3000:]
        assert 'ignored a frame request' in head.output(), head.output()[-3000:]
        wait_until(lambda: 'not warning about further ones' in head.output(), 30,
                   lambda: f'the warning limit in the log of face_sim_node: '
                           f'{head.output()[-2000:]}')
        assert head.output().count('ghost_') < 100
        assert 'cannot read camera frame' in observer.output(), observer.output()[-3000:]
