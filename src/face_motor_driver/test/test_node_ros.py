"""face_motor_driver_node as a real process over Fast DDS, on the emulator (port sim).

The node starts the emulator itself; the test talks to it only through ROS topics and
services, as the lip policy and face_sim do.
"""

import math
import os
import pathlib
import signal
import subprocess
import time

import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

from face_common import graphs
from face_common.waiting import wait_until
from face_motor_driver.emulator_process import apply_faults, write_faults
from face_msgs.msg import FaceCommand
from face_msgs.srv import GoNeutral, SetTorque

pytestmark = pytest.mark.ros
ROOT = pathlib.Path(__file__).resolve().parents[3]


def _command(parameters, params_file=False):
    """face_motor_driver_node's command line: config/face_motor_driver.yaml of this
    workspace (params_file=True) or none, with the given overrides."""
    return graphs.command(graphs.node('face_motor_driver_node', parameters,
                                      params_file=params_file), config_dir=ROOT / 'config')


def _children_of(pid):
    found = []
    for entry in pathlib.Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                if f'--parent-pid\x00{pid}\x00' in (entry / 'cmdline').read_text():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.fixture
def driver_node(fault_file):
    write_faults(fault_file)
    command = _command({'port': 'sim', 'cycle_rate': 100, 'command_timeout': 1.0,
                        'diagnostics_rate': 5.0, 'health_rate': 10.0, 'retry_interval': 0.3,
                        'sim_fault_file': fault_file}, params_file=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in _children_of(process.pid):
            os.kill(pid, signal.SIGKILL)


class Probe:
    def __init__(self, context):
        self.node = rclpy.create_node('driver_probe', context=context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        commands = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.lip = self.node.create_publisher(FaceCommand, 'face/lip_command', commands)
        self.expression = self.node.create_publisher(FaceCommand, 'face/expression_command',
                                                     commands)
        self.states, self.diagnostics = [], []
        self.node.create_subscription(JointState, 'face/joint_states', self.states.append, 50)
        self.node.create_subscription(DiagnosticArray, '/diagnostics',
                                      self.diagnostics.append, 10)
        self.torque = self.node.create_client(SetTorque, 'face/set_torque')
        self.neutral = self.node.create_client(GoNeutral, 'face/go_neutral')
        self.malformed_sent = 0   # commands sent that the node must count as malformed

    def wait(self, condition, what, timeout=20.0):
        """Spin until condition() holds; WaitTimeoutError naming what after timeout [s]."""
        return wait_until(condition, timeout, what, interval=0,
                          step=lambda: self.executor.spin_once(timeout_sec=0.02))

    def spin_for(self, seconds):
        """Spin for seconds: only the pace of a publisher (a policy speaking every 20 ms)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=max(0.0, end - time.monotonic()))

    def send_malformed(self, publisher, names, positions):
        self.malformed_sent += 1
        self.command(publisher, names, positions)

    def settle(self, publisher, cycles=20):
        """Until the node has taken every command sent so far on publisher and published
        cycles joint states since: the span in which an ignored command would have shown.

        A marker command naming no actuator goes after them; the node takes one topic's
        messages in order and counts the marker as malformed on /diagnostics.
        """
        self.send_malformed(publisher, ['settle_marker'], [0.0])
        self.wait(lambda: self.diagnostics and self.counts()['commands_malformed']
                  >= self.malformed_sent, lambda: f'{self.malformed_sent} malformed commands '
                  f'counted on /diagnostics ({self.counts()})')
        count = len(self.states)
        self.wait(lambda: len(self.states) >= count + cycles, f'{cycles} more joint states')

    def counts(self):
        """The commands the node did not take, by why, as its last bus status says."""
        return {v.key: int(v.value) for v in self.status('bus').values
                if v.key.startswith('commands_')}

    def position(self, name):
        msg = self.states[-1]
        return msg.position[list(msg.name).index(name)]

    def command(self, publisher, names, positions, source=FaceCommand.SOURCE_OTHER):
        msg = FaceCommand(name=names, position=positions, source=source)
        publisher.publish(msg)

    def call(self, client, request):
        assert client.wait_for_service(timeout_sec=30.0)
        future = client.call_async(request)
        self.wait(future.done, f'the reply of {client.srv_name}')
        return future.result()

    def status(self, name):
        array = self.diagnostics[-1]
        return next(s for s in array.status if s.name == f'face_motor_driver: {name}')


@pytest.mark.realtime
def test_face_command_in_joint_state_out(ros_context, driver_node, fault_file):
    probe = Probe(ros_context)
    try:
        probe.wait(lambda: len(probe.states) > 5, 'joint states of the new node', 60.0)
        first = probe.states[-1]
        assert len(first.name) == 26 and all(math.isfinite(p) for p in first.position)
        assert probe.position('jaw_open') == pytest.approx(0.0, abs=0.01)

        # lip command: the jaw opens, following within its slew and lag limits
        def jaw_open():
            probe.command(probe.lip, ['jaw_open', 'lip_corner_left_raise'], [0.3, 2.0])
            return (abs(probe.position('jaw_open') - 0.3) < 0.01
                    and abs(probe.position('lip_corner_left_raise') - 0.45) < 0.01)
        # 2.0 rad was clamped to the lip corner's limit 0.45 rad
        probe.wait(jaw_open, lambda: f'the jaw at 0.3 (it is at {probe.position("jaw_open")}), '
                   f'the corner at 0.45 ({probe.position("lip_corner_left_raise")})')

        # a NaN command is rejected whole; the jaw stays where it was
        probe.send_malformed(probe.lip, ['jaw_open'], [math.nan])
        probe.send_malformed(probe.expression, ['no_such_actuator'], [0.1])
        probe.settle(probe.lip)
        assert probe.position('jaw_open') == pytest.approx(0.3, abs=0.01)

        # the lower-priority expression command does not take the lip actuator
        probe.command(probe.lip, ['jaw_open'], [0.3])
        probe.command(probe.expression, ['jaw_open', 'brow_left_inner_raise'], [0.0, 0.3])
        probe.wait(lambda: abs(probe.position('brow_left_inner_raise') - 0.3) < 0.01,
                   'the brow at 0.3 (its part of the expression command)')
        assert probe.position('jaw_open') == pytest.approx(0.3, abs=0.01)

        # commands stop: after the 1 s timeout everything eases back to neutral
        probe.wait(lambda: abs(probe.position('jaw_open')) < 0.005 and abs(
            probe.position('brow_left_inner_raise')) < 0.005, 'the jaw and brow at neutral')

        # services
        response = probe.call(probe.torque, SetTorque.Request(enable=False))
        assert response.success and 'off' in response.message
        probe.command(probe.lip, ['jaw_open'], [0.2])
        probe.settle(probe.lip)
        assert probe.position('jaw_open') == pytest.approx(0.0, abs=0.01)
        assert probe.call(probe.torque, SetTorque.Request(enable=True)).success
        bad = probe.call(probe.neutral, GoNeutral.Request(duration=-1.0))
        assert not bad.success and 'invalid' in bad.message
        assert probe.call(probe.neutral, GoNeutral.Request(duration=0.2)).success

        # a servo dropping out: diagnostics ERROR, NaN state, and recovery
        apply_faults(fault_file, absent=[14])
        probe.wait(lambda: probe.diagnostics and probe.status('nose_wrinkle').level == b'\x02',
                   'nose_wrinkle at ERROR on /diagnostics')
        probe.wait(lambda: math.isnan(probe.position('nose_wrinkle')),
                   'a NaN position of nose_wrinkle')
        assert 'not answering' in probe.status('nose_wrinkle').message
        assert probe.status('jaw_open').level == b'\x00'
        apply_faults(fault_file)
        probe.wait(lambda: probe.status('nose_wrinkle').level == b'\x00',
                   'nose_wrinkle OK again on /diagnostics')
        assert math.isfinite(probe.position('nose_wrinkle'))
    finally:
        probe.node.destroy_node()
    assert _children_of(driver_node.pid), 'the node did not start its emulator'
    driver_node.send_signal(signal.SIGINT)
    output, _ = driver_node.communicate(timeout=15)
    assert driver_node.returncode == 0, output
    assert _children_of(driver_node.pid) == [], 'the emulator outlived the node'
    assert 'rejected' in output and 'nan' in output.lower()
    assert "unknown actuator 'no_such_actuator'" in output


@pytest.mark.realtime
def test_no_command_stops_the_face_and_none_outranks_the_speaking_lip_policy(
        ros_context, driver_node):
    probe = Probe(ros_context)
    try:
        probe.wait(lambda: len(probe.states) > 5, 'joint states of the new node', 60.0)

        def speak():
            # the lip policy keeps speaking (commands every 20 ms) while others try
            probe.command(probe.lip, ['jaw_open'], [0.3], FaceCommand.SOURCE_LIP)

        probe.wait(lambda: speak() or abs(probe.position('jaw_open') - 0.3) < 0.01,
                   'the speaking lip policy holding the jaw at 0.3')
        now = probe.node.get_clock().now()
        tries = 50   # each with five commands the lip policy's claim must outrank
        for _ in range(tries):
            speak()
            grab = FaceCommand(name=['jaw_open'], position=[0.0], priority=255,
                               source=FaceCommand.SOURCE_EXPRESSION)
            probe.expression.publish(grab)
            # a lip source on the expression topic, calibration outside calibration mode,
            # a negative reach time (rclpy's Time.from_msg raises on it), a stale stamp
            probe.command(probe.expression, ['jaw_open'], [0.0], FaceCommand.SOURCE_LIP)
            probe.command(probe.expression, ['jaw_open'], [0.0],
                          FaceCommand.SOURCE_CALIBRATION)
            bad = FaceCommand(name=['jaw_open'], position=[0.0])
            bad.reach_time.sec = -5
            probe.lip.publish(bad)
            stale = FaceCommand(name=['jaw_open'], position=[0.0])
            stale.header.stamp = (now - rclpy.duration.Duration(seconds=5)).to_msg()
            probe.lip.publish(stale)
            probe.spin_for(0.02)
            assert probe.position('jaw_open') == pytest.approx(0.3, abs=0.01)
        assert driver_node.poll() is None, 'a command took the driver down'
        count = len(probe.states)
        probe.wait(lambda: len(probe.states) > count + 20, '20 more joint states (the cycle)')

        # each counted by why (a reliable keep-last-10 queue may overflow on a busy machine)
        wanted = {'commands_refused': 2 * tries, 'commands_malformed': tries,
                  'commands_stale': tries}
        probe.wait(lambda: probe.diagnostics and all(
            0.8 * n <= probe.counts()[key] <= n for key, n in wanted.items()),
            lambda: f'the refused commands counted on /diagnostics: {probe.counts()}, '
            f'wanted {wanted}')

        # once the lip policy falls silent, its claim expires and expressions may move the jaw
        probe.wait(lambda: probe.command(probe.expression, ['jaw_open'], [0.1]) or abs(
            probe.position('jaw_open') - 0.1) < 0.01, 'an expression moving the jaw to 0.1')
    finally:
        probe.node.destroy_node()
    driver_node.send_signal(signal.SIGINT)
    output, _ = driver_node.communicate(timeout=15)
    assert driver_node.returncode == 0, output
    for words in ('does not belong on face/expression_command', 'calibration_mode:=true',
                  'reach_time is sec=-5', 'dropped as stale'):
        assert words in output


def test_missing_servo_at_start_exits_with_a_clear_error(fault_file):
    write_faults(fault_file, absent=[4])
    command = _command({'port': 'sim', 'sim_fault_file': fault_file})
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'lip_corner_right_raise (id 4)' in result.stdout + result.stderr


@pytest.mark.parametrize('parameter, message', [
    (('cycle_rate', '-5.0'), 'cycle_rate=-5.0 must be in [0.0, 5000.0]'),
    (('command_timeout', 'fast'), "command_timeout='fast' must be a float"),
    (('lip_priority', '300'), 'lip_priority=300 must be in [1, 255]'),
])
def test_a_bad_parameter_stops_the_node_naming_it(parameter, message):
    command = _command([('port', 'sim'), parameter])
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert message in result.stdout + result.stderr
    assert 'Traceback' not in result.stderr


def test_every_parameter_is_in_the_params_file_with_its_default():
    import yaml

    from face_motor_driver.driver_node import PARAMETERS
    params = yaml.safe_load((ROOT / 'config' / 'face_motor_driver.yaml').read_text())
    values = params['/**']['ros__parameters']
    assert set(values) == set(PARAMETERS)
    for name, (default, _, _) in PARAMETERS.items():
        assert values[name] == default, name
