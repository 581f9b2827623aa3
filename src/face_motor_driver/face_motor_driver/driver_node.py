"""face_motor_driver_node: the ROS 2 face of FaceDriver.

Subscribes face_msgs/FaceCommand on face/lip_command and face/expression_command (reliable,
depth 10), publishes sensor_msgs/JointState on face/joint_states every cycle and
diagnostic_msgs/DiagnosticArray on /diagnostics, serves face/set_torque and face/go_neutral.
The bus cycle runs in its own thread at cycle_rate; the executor thread handles commands
and services; one lock keeps them apart. With port `sim` the node starts the bus emulator
in its own process and stops it on shutdown.
"""

import math
import re
import threading
import time
from array import array

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import JointState

from face_common import scheduling
from face_common.parameters import (
    Parameter,
    ParameterError,
    between,
    declare_parameters,
    diagnostics_rate_parameter,
    each_one_of,
    positive,
    scheduling_parameters,
)
from face_common.qos import COMMAND_QOS
from face_common.spin import spin_node
from face_common.time import stamp_seconds
from face_msgs.checks import MessageError, check_face_command
from face_msgs.msg import FaceCommand
from face_msgs.srv import GoNeutral, SetTorque

from .arbitration import CommandArbiter, CommandRefusedError, StaleCommandError
from .bus import BusError, FaceBus
from .control_table import ERROR_BITS
from .driver import DriverSettings, FaceDriver
from .emulator import DEFAULT_LAG
from .emulator_process import EmulatorError, EmulatorProcess
from .face_config import SIM_PORT, ConfigError, default_face_config_path, load_face_config

_VARYING = re.compile(r"'[^']*'|\"[^\"]*\"|[-+]?\d[\w.+-]*")

PARAMETERS = {
    'config_file': Parameter('', 'face_motors.yaml with the actuators; empty = the workspace '
                             'config'),
    'port': Parameter('', "serial device, 'sim' for the emulator, empty = bus.port of the "
                      'config'),
    'baud_rate': Parameter(0, 'bus baud rate [bit/s]; 0 = bus.baud_rate of the config',
                           between(0, 4_500_000)),
    'cycle_rate': Parameter(150.0, 'control cycles per second [Hz]; 0 = as fast as the bus '
                            'allows', between(0.0, 5000.0)),
    'command_timeout': Parameter(0.5, 'seconds without a command naming an actuator before it '
                                 'eases to neutral [s]', positive(600.0)),
    'neutral_duration': Parameter(1.0, 'default time to ease to neutral [s]', positive(60.0)),
    'lip_priority': Parameter(20, 'priority of lip-policy commands (and of face/lip_command) '
                              '[1..255]', between(1, 255)),
    'expression_priority': Parameter(10, 'priority of expression commands (and of '
                                     'face/expression_command) [1..255]', between(1, 255)),
    'gaze_priority': Parameter(10, 'priority of gaze commands [1..255]', between(1, 255)),
    'calibration_priority': Parameter(30, 'priority of calibration (babbling) commands '
                                      '[1..255]', between(1, 255)),
    'calibration_mode': Parameter(False, 'take calibration commands (babbling moves every '
                                  'actuator at calibration_priority); off on a face in '
                                  'service'),
    'max_command_age': Parameter(0.5, 'drop commands whose header.stamp is further than this '
                                 'from now (unstamped commands are taken) [s]', positive(60.0)),
    'max_reach_ahead': Parameter(2.0, 'refuse commands whose reach_time is further ahead than '
                                 'this [s]', positive(60.0)),
    'health_rate': Parameter(5.0, 'reads of error bits, voltage and temperature per second '
                             '[Hz]', positive(100.0)),
    **diagnostics_rate_parameter(2.0),
    'retry_interval': Parameter(1.0, 'time between pings of a servo that stopped answering '
                                '[s]', positive(60.0)),
    'latency_timer_ms': Parameter(16.0, 'USB adapter latency timer the reply timeouts assume '
                                  '[ms]', between(1.0, 32.0)),
    'fast_sync_read': Parameter(True, 'use FAST_SYNC_READ (0x8A) when every model supports it'),
    'profile_velocity': Parameter(0.0, 'servo-side speed cap [rad/s]; 0 = none (the driver '
                                  'slews)', between(0.0, 100.0)),
    'profile_acceleration': Parameter(0.0, 'servo-side acceleration cap [rad/s^2]; 0 = none',
                                      between(0.0, 10000.0)),
    'temperature_warn_margin': Parameter(10.0, 'WARN when this close to the temperature limit '
                                         '[deg C]', between(0.0, 60.0)),
    'load_warn': Parameter(0.8, 'WARN above this fraction of the current limit [0..1]',
                           positive(1.0)),
    'shutdown_timeout': Parameter(3.0, 'longest wait for the neutral pose at shutdown [s]',
                                  between(0.0, 60.0)),
    'reboot_on_errors': Parameter(['overload', 'overheating'], 'hardware errors cleared by '
                                  'rebooting the servo (overheating once cooled '
                                  'temperature_warn_margin below its limit), then configured '
                                  'again with torque restored; [] = never',
                                  each_one_of(ERROR_BITS.values())),
    'reboot_interval': Parameter(5.0, 'at least this long between reboots of one servo [s]',
                                 positive(3600.0)),
    'frame_id': Parameter('', 'frame_id stamped on face/joint_states'),
    'sim_wire_time': Parameter(False, "emulator only (port 'sim'): simulate wire time at the "
                               'baud rate'),
    'sim_lag': Parameter(DEFAULT_LAG, 'emulator only: servo position lag time constant [s]',
                         positive(1.0)),
    'sim_fault_file': Parameter('', 'emulator only: JSON fault-injection file, re-read on '
                                'change'),
    **scheduling_parameters(20, "above the lip policy's, whose commands it serves (its "
                               'child process is the bus emulator)'),
}


class FaceMotorDriverNode(Node):
    def __init__(self, **kwargs):
        super().__init__('face_motor_driver_node', **kwargs)
        self.p = declare_parameters(self, PARAMETERS, 'face_motor_driver.yaml')
        self.add_on_set_parameters_callback(self._refuse_changes)
        config_path = self.p['config_file'] or default_face_config_path()
        self.config = load_face_config(config_path)
        self.known_names = set(self.config.names)
        port = self.p['port'] or self.config.bus.port
        baud = self.p['baud_rate'] or self.config.bus.baud_rate
        self.emulator = None
        if port == SIM_PORT:
            self.emulator = EmulatorProcess(config_path, wire_time=self.p['sim_wire_time'],
                                            baud=baud, lag=self.p['sim_lag'],
                                            fault_file=self.p['sim_fault_file'])
            port = self.emulator.port
            self.get_logger().info(f'bus emulator started on {port}')
        settings = DriverSettings(**{k: self.p[k] for k in (
            'command_timeout', 'neutral_duration', 'health_rate', 'retry_interval',
            'temperature_warn_margin', 'load_warn', 'profile_velocity',
            'profile_acceleration', 'shutdown_timeout', 'reboot_interval')},
            reboot_on=tuple(self.p['reboot_on_errors']))
        bus = FaceBus(self.config, port=port, baud_rate=baud,
                      latency_timer_ms=self.p['latency_timer_ms'],
                      fast_sync_read=self.p['fast_sync_read'])
        self.driver = FaceDriver(self.config, bus, settings, log=self.get_logger().warning)
        self.arbiter = CommandArbiter(
            {FaceCommand.SOURCE_LIP: self.p['lip_priority'],
             FaceCommand.SOURCE_EXPRESSION: self.p['expression_priority'],
             FaceCommand.SOURCE_GAZE: self.p['gaze_priority'],
             FaceCommand.SOURCE_CALIBRATION: self.p['calibration_priority']},
            [a.name for a in self.config.lip_actuators], self.p['calibration_mode'],
            self.p['max_command_age'], self.p['max_reach_ahead'])
        self.refused = {'malformed': 0, 'refused': 0, 'stale': 0}   # commands not taken
        self.lock = threading.Lock()
        self._last_warned = {}
        self.joint_pub = self.create_publisher(JointState, 'face/joint_states', 10)
        self._joint_state = JointState(name=list(self.config.names))
        self._joint_state.header.frame_id = self.p['frame_id']
        self._system_time = not self.get_parameter('use_sim_time').value
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_subscription(FaceCommand, 'face/lip_command',
                                 lambda m: self._on_command(m, 'lip'), COMMAND_QOS)
        self.create_subscription(FaceCommand, 'face/expression_command',
                                 lambda m: self._on_command(m, 'expression'), COMMAND_QOS)
        self.create_service(SetTorque, 'face/set_torque', self._on_set_torque)
        self.create_service(GoNeutral, 'face/go_neutral', self._on_go_neutral)
        # The servos come up last, just before the cycle starts: their Bus Watchdogs are
        # armed at the end of start(), and creating the ROS entities above can take longer
        # than the watchdog time on a busy host.
        try:
            self.driver.start()
        except BusError:
            self._stop_emulator()
            raise
        self.cycle_hz = 0.0
        self._running = True
        self._thread = threading.Thread(target=self._control_loop, daemon=True)
        self._thread.start()
        self.get_logger().info(
            f'driving {len(self.config.actuators)} actuators on {port} at {baud} bit/s, '
            f'cycle_rate {self.p["cycle_rate"] or "max"} Hz')

    def _refuse_changes(self, params):
        names = ', '.join(p.name for p in params)
        return SetParametersResult(successful=False, reason=(
            f'{names}: face_motor_driver_node reads its parameters at start-up; restart it '
            'with the new values'))

    # -- commands and services ------------------------------------------------------------
    def _on_command(self, msg, topic):
        # No message may stop the face: whatever goes wrong with one command is logged and
        # that command dropped; the node and its control thread carry on.
        try:
            self._take_command(msg, topic)
        except Exception as exc:   # noqa: BLE001 - a bug here must not take the face down
            self.refused['malformed'] += 1
            self._warn_once_a_second(f'face/{topic}_command dropped: {type(exc).__name__}: '
                                     f'{exc}')

    def _take_command(self, msg, topic):
        try:
            check_face_command(msg, self.known_names)
        except MessageError as exc:
            self.refused['malformed'] += 1
            self._warn_once_a_second(f'face/{topic}_command rejected: {exc}')
            return
        # the system clock unless use_sim_time (see _publish_joint_states: cheaper by far)
        now = (time.time_ns() if self._system_time
               else self.get_clock().now().nanoseconds) * 1e-9
        try:
            admitted = self.arbiter.admit(topic, msg.source, msg.priority, msg.name,
                                          stamp_seconds(msg.header.stamp),
                                          stamp_seconds(msg.reach_time),
                                          now)
        except StaleCommandError as exc:
            self.refused['stale'] += 1
            self._warn_once_a_second(f'face/{topic}_command {exc}')
            return
        except CommandRefusedError as exc:
            self.refused['refused'] += 1
            self._warn_once_a_second(f'face/{topic}_command refused: {exc}')
            return
        with self.lock:
            _, clamped, refusal = self.driver.submit(list(msg.name), list(msg.position),
                                                     list(msg.max_velocity), admitted.priority,
                                                     time.monotonic(), admitted.reach_in)
        if refusal:
            self.get_logger().info(f'face/{topic}_command not applied: {refusal}',
                                   throttle_duration_sec=1.0)
        if clamped:
            self._warn_once_a_second(f'face/{topic}_command clamped to joint limits: '
                                     f'{", ".join(clamped)}')

    def _warn_once_a_second(self, text):
        # Once a second per kind of problem (the text with its quoted names and numbers
        # left out), so one flooding publisher cannot hide a different problem, and a
        # publisher of endlessly varied bad commands cannot flood the log (and the CPU).
        kind = _VARYING.sub('_', text)
        now = time.monotonic()
        if len(self._last_warned) > 1000:
            self._last_warned.clear()
        if now - self._last_warned.get(kind, -math.inf) >= 1.0:
            self._last_warned[kind] = now
            self.get_logger().warning(text)

    def _on_set_torque(self, request, response):
        with self.lock:
            response.success, response.message = self.driver.set_torque(request.enable)
        self.get_logger().info(f'set_torque({request.enable}): {response.message}')
        return response

    def _on_go_neutral(self, request, response):
        if not (math.isfinite(request.duration) and 0.0 <= request.duration <= 60.0):
            response.success = False
            response.message = (f'duration {request.duration} s is invalid; use 0 (the '
                                'driver default) or a time in (0, 60] s')
            return response
        with self.lock:
            response.success, response.message = self.driver.go_neutral(request.duration)
        return response

    # -- the control thread ---------------------------------------------------------------
    def _control_loop(self):
        rate = self.p['cycle_rate']
        period = 1.0 / rate if rate > 0 else 0.0
        next_cycle = time.monotonic()
        next_diagnostics = next_cycle
        window_start, window_cycles = next_cycle, 0
        port_was_lost = False
        while self._running:
            now = time.monotonic()
            try:
                with self.lock:
                    self.driver.cycle(now)
            except Exception as exc:   # noqa: BLE001 - the control thread must never die
                self.get_logger().error(f'bus cycle failed: {type(exc).__name__}: {exc}',
                                        throttle_duration_sec=1.0)
                time.sleep(0.05)
            if not self.context.ok():
                break   # rclpy is shutting down; stop() takes the face to neutral
            port_lost = bool(self.driver.port_lost)
            if not port_lost:   # no joint states without fresh readings behind them
                self._publish_joint_states()
            window_cycles += 1
            if now - window_start >= 1.0:
                self.cycle_hz = window_cycles / (now - window_start)
                window_start, window_cycles = now, 0
            if port_lost != port_was_lost:   # say so now, not at the next diagnostics tick
                port_was_lost, next_diagnostics = port_lost, now
            if now >= next_diagnostics:
                next_diagnostics = now + 1.0 / self.p['diagnostics_rate']
                self._publish_diagnostics()
            if period:
                next_cycle += period
                delay = next_cycle - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -period:
                    next_cycle = time.monotonic()   # fell behind: do not try to catch up

    def _publish_joint_states(self):
        # One message, refilled every cycle: building a JointState (and its Header and
        # stamp messages) per cycle cost more than publishing it. array('d') is the fields'
        # own storage type, so the setters take it without checking every element.
        msg, d = self._joint_state, self.driver
        # ROS time is the system clock unless use_sim_time, which cannot change while we
        # run (parameter changes are refused); reading the node's clock costs 50 times more.
        now = time.time_ns() if self._system_time else self.get_clock().now().nanoseconds
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
        msg.position = array('d', d.position.tobytes())
        msg.velocity = array('d', d.velocity.tobytes())
        msg.effort = array('d', d.effort.tobytes())
        self.joint_pub.publish(msg)

    def _publish_diagnostics(self):
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        with self.lock:
            statuses = self.driver.statuses()
            online = len(self.driver.bus.online)
            failed = self.driver.failed_reads
            trips = self.driver.watchdog_trips
            reboots, resets = self.driver.reboots, self.driver.resets
            lost, losses = self.driver.port_lost, self.driver.port_losses
            torque = self.driver.torque_enabled
        refused = dict(self.refused)
        for s in statuses:
            msg.status.append(DiagnosticStatus(
                level=bytes([s.level]), name=f'face_motor_driver: {s.name}',
                hardware_id=f'dynamixel id {s.servo_id}', message=s.message,
                values=[KeyValue(key=k, value=v) for k, v in s.values.items()]))
        total = len(self.config.actuators)
        level = DiagnosticStatus.OK if online == total else DiagnosticStatus.ERROR
        message = f'{online}/{total} servos answering'
        if lost:
            level, message = DiagnosticStatus.ERROR, f'port lost, reconnecting: {lost}'
        msg.status.append(DiagnosticStatus(
            level=level, name='face_motor_driver: bus', hardware_id=self.driver.bus.port_name,
            message=message,
            values=[KeyValue(key='cycle_hz', value=f'{self.cycle_hz:.1f}'),
                    KeyValue(key='retried_reads', value=str(failed)),
                    KeyValue(key='watchdog_trips', value=str(trips)),
                    KeyValue(key='port_losses', value=str(losses)),
                    KeyValue(key='reboots', value=str(reboots)),
                    KeyValue(key='servo_resets', value=str(resets)),
                    *[KeyValue(key=f'commands_{why}', value=str(count))
                      for why, count in refused.items()],
                    KeyValue(key='torque', value='on' if torque else 'off')]))
        self.diag_pub.publish(msg)

    # -- shutdown -------------------------------------------------------------------------
    def stop(self):
        """Neutral pose, torque off, port closed, emulator stopped."""
        self._running = False
        self._thread.join(timeout=2.0)
        try:
            self.driver.shutdown()
        except (BusError, OSError) as exc:
            self.get_logger().error(f'shutdown of the bus was incomplete: {exc}')
        finally:
            self._stop_emulator()

    def _stop_emulator(self):
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None


def main(args=None):
    # Start-up failures (config, bus, emulator, parameters) say what is wrong and exit 1.
    spin_node(FaceMotorDriverNode, args, (ConfigError, BusError, EmulatorError, ParameterError),
              name='face_motor_driver_node', failure_code=1,
              started=lambda node: node.get_logger().info(scheduling.apply(
                  node.p['scheduling'], node.p['realtime_priority'])),
              stopping=lambda node: node.stop())


if __name__ == '__main__':
    main()
