"""face_sim_node as a real process over DDS: joint states in, camera images out."""

import time

import numpy as np
import pytest

from face_common import graphs

pytestmark = pytest.mark.ros

WIDTH, HEIGHT = 320, 240


def face_sim(parameters, params_file=False):
    """face_sim_node started with the given overrides, on config/face_sim.yaml
    (params_file=True) or its built-in defaults; its output is kept (.output())."""
    return graphs.start(graphs.node('face_sim_node', parameters, params_file=params_file))


class Probe:
    """A test node that publishes joint states and keeps the images it receives."""

    def __init__(self, context):
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image, JointState

        self.JointState = JointState
        self.node = Node('face_sim_probe', context=context)
        self.images = []
        self.node.create_subscription(Image, 'camera/image_raw', self.images.append,
                                      qos_profile_sensor_data)
        self.joints = self.node.create_publisher(JointState, 'face/joint_states', 10)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)

    def publish(self, names, positions):
        msg = self.JointState()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.name, msg.position = list(names), [float(p) for p in positions]
        self.joints.publish(msg)

    def spin_until(self, condition, timeout, positions=None):
        """Spin (re-publishing positions every 50 ms) until condition() or timeout [s]."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if positions is not None:
                self.publish(positions.keys(), positions.values())
            self.executor.spin_once(timeout_sec=0.05)
            if condition():
                return True
        return False

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()


def pixels(msg):
    return np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)


@pytest.mark.realtime
def test_images_follow_joint_states(ros_context):
    with face_sim({'width': WIDTH, 'height': HEIGHT, 'rate_hz': 15.0, 'frame_id': 'mirror'},
                  params_file=True) as sim:
        probe = Probe(ros_context)
        try:
            assert probe.spin_until(lambda: len(probe.images) >= 3, 60), sim.output()
            first = probe.images[-1]
            assert (first.width, first.height, first.encoding) == (WIDTH, HEIGHT, 'rgb8')
            assert first.step == WIDTH * 3 and len(first.data) == WIDTH * HEIGHT * 3
            assert first.header.frame_id == 'mirror'
            now = probe.node.get_clock().now().nanoseconds * 1e-9
            stamps = [m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec for m in probe.images]
            assert all(b > a for a, b in zip(stamps, stamps[1:])), 'one stamp per capture'
            assert abs(now - stamps[-1]) < 5.0, 'stamped with the capture time'
            neutral = pixels(first)

            def latest_differs():
                return np.abs(pixels(probe.images[-1]).astype(int) - neutral).mean() > 1.0

            open_jaw = {'jaw_open': 0.4, 'lip_corner_left_raise': 0.3}
            assert probe.spin_until(latest_differs, 20, open_jaw), sim.output()
            # A malformed message is dropped with a warning, not a crash; so is an invalid
            # stamp, on which rclpy's Time.from_msg raises.
            probe.publish(['jaw_open', 'chin_raise'], [0.1])
            bad = probe.JointState(name=['jaw_open'], position=[0.2])
            bad.header.stamp.sec = -3
            probe.joints.publish(bad)
            back = {'jaw_open': 0.0, 'lip_corner_left_raise': 0.0}
            assert probe.spin_until(lambda: not latest_differs(), 20, back), \
                'the neutral face must come back exactly (no nuisances: deterministic)'
            assert sim.process.poll() is None, sim.output()
        finally:
            probe.close()
        sim.stop()
        output = sim.output()
    assert 'parallel arrays' in output
    assert 'JointState header.stamp is sec=-3' in output


@pytest.mark.parametrize('parameter, message', [
    (('width', '641'), 'width'),
    (('rate_hz', '0.0'), 'rate_hz'),
    (('rate_hz', 'fast'), 'must be a float'),  # an int (rate_hz:=30) is taken for a float
    (('face_config', '/nonexistent/face_motors.yaml'), 'cannot read face config'),
])
def test_bad_parameters_fail_clearly(parameter, message):
    with face_sim([parameter]) as sim:
        code = sim.process.wait(timeout=60)
        output = sim.output()
    assert code == 2, output
    assert message in output
    assert 'Traceback' not in output


@pytest.mark.realtime
def test_a_trigger_captures_the_face_of_the_first_joint_states_at_its_stamp(ros_context):
    from rclpy.duration import Duration
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Header

    # Free-running at 1 Hz: three requests 0.4 s apart can only be answered by the trigger.
    with face_sim({'width': WIDTH, 'height': HEIGHT, 'rate_hz': 1.0}) as sim:
        probe = Probe(ros_context)
        trigger = probe.node.create_publisher(
            Header, 'camera/trigger', QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        try:
            assert probe.spin_until(lambda: probe.images and trigger.get_subscription_count(),
                                    60), sim.output()
            for _ in range(3):
                clock = probe.node.get_clock()
                wanted = clock.now() + Duration(seconds=0.1)
                trigger.publish(Header(stamp=wanted.to_msg()))
                sent = []   # stamps of the joint states published [ns]
                deadline = time.monotonic() + 0.4
                while time.monotonic() < deadline:
                    msg = probe.JointState(name=['jaw_open'], position=[0.2])
                    msg.header.stamp = clock.now().to_msg()
                    probe.joints.publish(msg)
                    sent.append(clock.now().from_msg(msg.header.stamp).nanoseconds)
                    probe.executor.spin_once(timeout_sec=0.02)
                first = min(s for s in sent if s >= wanted.nanoseconds)
                got = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec
                       for m in probe.images]
                assert first in got, (f'no image of the joint states stamped {first} ns '
                                      f'(asked for {wanted.nanoseconds}); images: {got[-5:]}')
            assert sim.process.poll() is None, sim.output()
        finally:
            probe.close()
