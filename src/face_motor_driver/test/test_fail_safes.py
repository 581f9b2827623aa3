"""Servo-side fail-safes: the driver writes and reads back the position limits, Shutdown and
Bus Watchdog; a servo that hears nothing for the watchdog time stops where it is; the driver
re-arms a tripped servo and the face follows again."""

import time

import pytest

from face_common import graphs
from face_common.waiting import wait_until
from face_motor_driver.bus import FaceBus
from face_motor_driver.control_table import (
    ERROR_BITS,
    FIELDS,
    WATCHDOG_TRIPPED,
    encode,
    joint_to_ticks,
    position_limit_ticks,
)
from face_motor_driver.driver import DriverSettings, FaceDriver
from face_motor_driver.face_config import default_face_config_path, load_face_config
from face_motor_driver.protocol import ERR_ACCESS
from face_motor_driver.servo_model import AccessError, EmulatedServo

WATCHDOG = load_face_config(default_face_config_path()).bus.watchdog   # [s]
UNITS = round(WATCHDOG / 0.02)
SILENCE = WATCHDOG + 0.2   # [s] longer than the watchdog


def _write(servo, name, value, now):
    field = FIELDS[name]
    servo.write(field.address, encode(value, field.size), now)


def test_a_silent_bus_stops_the_servo_where_it_is_within_the_watchdog_time():
    servo, twin = (EmulatedServo(1, 'XM430-W350', 2048, lag=0.03, now=0.0) for _ in range(2))
    _write(servo, 'bus_watchdog', 5, 0.0)          # 100 ms
    for s in (servo, twin):
        _write(s, 'torque_enable', 1, 0.0)
        _write(s, 'goal_position', 3000, 0.0)      # far: ~1.46 rad, a 0.3 s move
    servo.update(0.09)
    assert servo.get('bus_watchdog') == 5, 'tripped before the watchdog time'
    twin.update(0.1)                               # where the unwatched servo is at 100 ms
    assert 2100 < twin.position < 2900, 'the move should still be under way at 100 ms'
    servo.update(1.0)
    assert servo.get('bus_watchdog') == WATCHDOG_TRIPPED
    assert servo.position == pytest.approx(twin.position, abs=1), \
        'it did not stop where it was when the watchdog time ran out'
    twin.update(1.0)
    assert twin.position == pytest.approx(3000, abs=2)

    # Goals are read-only until the watchdog is cleared; then it obeys again.
    with pytest.raises(AccessError) as refused:
        _write(servo, 'goal_position', 3000, 1.0)
    assert refused.value.code == ERR_ACCESS
    _write(servo, 'bus_watchdog', 0, 1.0)
    _write(servo, 'goal_position', 3000, 1.0)
    servo.update(1.5)
    assert servo.position == pytest.approx(3000, abs=2)


def test_instructions_keep_the_watchdog_from_tripping():
    servo = EmulatedServo(1, 'XM430-W350', 2048, now=0.0)
    _write(servo, 'bus_watchdog', 5, 0.0)
    _write(servo, 'torque_enable', 1, 0.0)
    for k in range(1, 100):                     # a 150 Hz cycle's reads for 0.66 s
        servo.read(FIELDS['present_position'].address, 4, k / 150)
    assert servo.get('bus_watchdog') == 5
    servo.update(0.66 + 0.05)
    assert servo.get('bus_watchdog') == 5       # 50 ms of silence is inside 100 ms
    _write(servo, 'torque_enable', 0, 0.7)
    servo.update(5.0)
    assert servo.get('bus_watchdog') == 5, 'the watchdog only watches with torque on'


def test_the_driver_writes_the_fail_safes_and_they_read_back(face_config, emulator):
    bus = FaceBus(face_config, port=emulator.port)
    driver = FaceDriver(face_config, bus, DriverSettings(health_rate=20.0), log=print)
    driver.start()
    try:
        shutdown = sum(1 << bit for bit, name in ERROR_BITS.items()
                       if name in face_config.bus.shutdown)
        for a in face_config.actuators:
            low, high = position_limit_ticks(a)
            assert (bus.read(a, 'min_position_limit'), bus.read(a, 'max_position_limit')) \
                == (low, high) == tuple(sorted((joint_to_ticks(a, a.min),
                                                joint_to_ticks(a, a.max))))
            assert bus.read(a, 'shutdown') == shutdown
            # armed once torque is on, all at once
            assert bus.read(a, 'bus_watchdog') == UNITS == round(face_config.bus.watchdog / 0.02)
    finally:
        driver.shutdown()


def test_a_stalled_cycle_trips_the_watchdog_and_the_driver_rearms_it(face_config, emulator):
    logs = []
    bus = FaceBus(face_config, port=emulator.port)
    driver = FaceDriver(face_config, bus, DriverSettings(health_rate=20.0), log=logs.append)
    driver.start()
    jaw = face_config.names.index('jaw_open')
    actuator = face_config.actuators[jaw]

    def run_until(condition, what, goal):
        def cycle():
            driver.submit(['jaw_open'], [goal], [], 10, time.monotonic())
            driver.cycle(time.monotonic())
        wait_until(condition, 15, what, step=cycle)
    try:
        # The sleeps are the silences under test: no instruction reaches the servos.
        time.sleep(SILENCE)    # a node taking its time between start() and its first cycle
        run_until(lambda: abs(driver.position[jaw] - 0.1) < 0.01, 'the jaw at 0.1', 0.1)
        assert driver.watchdog_trips == 26, 'the first cycle re-arms what tripped meanwhile'
        time.sleep(SILENCE)                      # the host stalls: no instruction at all
        assert bus.read(actuator, 'bus_watchdog') == WATCHDOG_TRIPPED
        # the late cycle finds it and re-arms it
        run_until(lambda: driver.watchdog_trips >= 27 and abs(driver.position[jaw] - 0.3) < 0.01,
                  lambda: f'a re-armed watchdog ({driver.watchdog_trips} trips) and the jaw at '
                  f'0.3 ({driver.position[jaw]:.3f})', 0.3)
        assert any('bus watchdog' in line for line in logs)
        assert bus.read(actuator, 'bus_watchdog') == UNITS
        assert driver.position[jaw] == pytest.approx(0.3, abs=0.01), 'goals ignored'
    finally:
        driver.shutdown()


HOLD_WITHIN = 0.1  # [s] servos left alone must stop by themselves within this


@pytest.mark.ros
@pytest.mark.realtime
def test_kill_9_of_the_driver_mid_motion_leaves_the_servos_stopped_by_their_watchdog(
        face_config, emulator, ros_context):
    """The driver node on a separate emulator process (as on a real bus, the servos outlive
    the driver), killed with SIGKILL while it moves the jaw: nothing eases the face, yet
    every servo stops by itself within 100 ms (the Bus Watchdog of the shipped
    config/face_motors.yaml) and keeps the limits the driver wrote."""
    import os
    import signal
    import subprocess

    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState

    from face_msgs.msg import FaceCommand

    assert 0 < WATCHDOG <= HOLD_WITHIN, 'the shipped Bus Watchdog must stop servos in 100 ms'
    driver = subprocess.Popen(
        graphs.command(graphs.node('face_motor_driver_node',
                                   {'port': emulator.port, 'scheduling': 'normal'},
                                   params_file=False)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = rclpy.create_node('kill_probe', context=ros_context)
    try:
        executor = rclpy.executors.SingleThreadedExecutor(context=ros_context)
        executor.add_node(node)
        states = []
        node.create_subscription(JointState, 'face/joint_states', states.append, 10)
        lip = node.create_publisher(FaceCommand, 'face/lip_command',
                                    QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        wait_until(lambda: states, 60, 'the first joint state of the driver', interval=0,
                   step=lambda: executor.spin_once(timeout_sec=0.05))
        jaw = list(states[-1].name).index('jaw_open')
        # swing the jaw until it is moving fast, then kill the driver
        for k in range(200):
            lip.publish(FaceCommand(name=['jaw_open'], position=[0.35 if k // 40 % 2 else 0.0],
                                    source=FaceCommand.SOURCE_LIP))
            executor.spin_once(timeout_sec=0.01)
            if k > 60 and abs(states[-1].velocity[jaw]) > 1.0:
                break
        assert abs(states[-1].velocity[jaw]) > 1.0, 'the jaw never moved fast'
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
    finally:
        if driver.poll() is None:
            driver.kill()
        node.destroy_node()
    # Under test: the servos, unwatched, stop within the watchdog time. Polling them would
    # reset their watchdogs (any instruction does), so the test stays off the bus that long
    # (20 ms beyond it: the emulator's clock and this one are read at different moments).
    time.sleep(HOLD_WITHIN + 0.02)
    bus = FaceBus(face_config, port=emulator.port)
    bus.open()
    try:
        actuator = face_config.actuators[jaw]
        first = bus.read_position(actuator)
        for a in face_config.actuators:
            assert bus.read(a, 'bus_watchdog') == WATCHDOG_TRIPPED, a.name
            assert bus.read(a, 'torque_enable') == 1, 'it holds its pose, torque on'
            assert (bus.read(a, 'min_position_limit'), bus.read(a, 'max_position_limit')) == \
                position_limit_ticks(a)
        time.sleep(0.2)   # the span over which a servo still moving would have moved
        assert bus.read_position(actuator) == pytest.approx(first, abs=0.002), 'still moving'
    finally:
        bus.close()
