"""FaceDriver (no ROS) through the real SDK against the emulator process, with faults."""

import time

import numpy as np
import pytest

from face_common.waiting import wait_until
from face_motor_driver.bus import FaceBus, ServoMissingError
from face_motor_driver.driver import ERROR, OK, STALE, DriverSettings, FaceDriver
from face_motor_driver.emulator_process import apply_faults

PERIOD = 0.004   # [s] between the test's driver cycles, as the node's control loop paces them


@pytest.fixture
def driver(face_config, emulator):
    logs = []
    d = FaceDriver(face_config, FaceBus(face_config, port=emulator.port),
                   DriverSettings(health_rate=20.0, retry_interval=0.2), log=logs.append)
    d.logs = logs
    d.start()
    try:
        yield d
    finally:
        d.shutdown()


def _run_until(driver, condition, what, timeout=15.0, command=None):
    """Cycle the driver until condition() holds (WaitTimeoutError naming what after timeout [s]).

    command: (names, positions) submitted before every cycle, as a speaking policy does.
    """
    def step():
        if command:
            driver.submit(*command, [], 10, time.monotonic())
        driver.cycle(time.monotonic())
    return wait_until(condition, timeout, what, step=step, interval=PERIOD)


def _run_cycles(driver, count):
    """count driver cycles: the span in which something must not happen (or a warm-up)."""
    start = driver.cycles
    _run_until(driver, lambda: driver.cycles >= start + count, f'{count} driver cycles')


def _health_reads(driver, servo_id, count):
    """A condition: count more health reads of servo_id (each read is a new ServoHealth)."""
    seen, reads = [driver.health.get(servo_id)], [0]

    def condition():
        if driver.health.get(servo_id) is not seen[0]:
            seen[0] = driver.health.get(servo_id)
            reads[0] += 1
        return reads[0] >= count
    return condition


def _status(driver, name):
    return next(s for s in driver.statuses() if s.name == name)


def test_absent_servo_at_start_is_a_clear_error(face_config, emulator, fault_file):
    apply_faults(fault_file, absent=[3])
    d = FaceDriver(face_config, FaceBus(face_config, port=emulator.port))
    with pytest.raises(ServoMissingError, match=r'lip_corner_left_stretch \(id 3\)'):
        d.start()


def test_commands_reach_the_servos_within_limits(driver, face_config):
    jaw = face_config.names.index('jaw_open')
    lid = face_config.names.index('eyelid_left_upper_close')
    _run_until(driver, lambda: abs(driver.position[jaw] - 0.3) < 0.01
               and abs(driver.position[lid] - 0.9) < 0.01, 'the jaw at 0.3, the lid at 0.9',
               command=(['jaw_open', 'eyelid_left_upper_close'], [0.3, 5.0]))
    assert driver.position[jaw] == pytest.approx(0.3, abs=0.01)
    assert driver.position[lid] == pytest.approx(0.9, abs=0.01)   # clamped to max
    assert np.all(np.isfinite(driver.position))
    assert all(s.level in (OK, STALE) for s in driver.statuses())


def test_servo_dropping_out_is_reported_and_recovers(driver, fault_file):
    _run_cycles(driver, 20)
    apply_faults(fault_file, absent=[12])
    _run_until(driver, lambda: 12 in driver.offline, 'servo 12 offline')
    status = _status(driver, 'cheek_left_raise')
    assert status.level == ERROR and 'not answering' in status.message
    assert 12 not in driver.bus.online and len(driver.bus.online) == 25
    assert np.isnan(driver.position[11]) and np.isfinite(driver.position[12])
    # the others keep running: a command to another actuator still moves it
    _run_until(driver, lambda: abs(driver.position[12] - 0.3) < 0.01,
               'cheek_right_raise at 0.3 while servo 12 is offline',
               command=(['cheek_right_raise'], [0.3]))
    apply_faults(fault_file)
    _run_until(driver, lambda: 12 in driver.bus.online and driver.health.get(12),
               'servo 12 online with a health reading')
    assert _status(driver, 'cheek_left_raise').level == OK
    assert any('answers again' in line for line in driver.logs)


def test_a_silent_servo_is_retried_without_waiting_for_its_reply(driver, fault_file,
                                                                 monkeypatch):
    driver.settings.retry_interval = 0.02
    apply_faults(fault_file, absent=[12])
    _run_until(driver, lambda: 12 in driver.offline, 'servo 12 offline')

    def blocking_ping(actuator):
        raise AssertionError('a blocking ping (a reply timeout) inside the cycle')
    monkeypatch.setattr(driver.bus, 'ping', blocking_ping)
    sent = []
    send_ping = driver.bus.send_ping
    monkeypatch.setattr(driver.bus, 'send_ping', lambda a: sent.append(a.id) or send_ping(a))
    _run_until(driver, lambda: len(sent) >= 3, 'three retry pings of the silent servo')
    assert set(sent) == {12}
    assert 12 in driver.offline
    apply_faults(fault_file)
    _run_until(driver, lambda: 12 not in driver.offline, 'servo 12 back online')
    assert driver.bus.read(driver.config.actuators[11], 'torque_enable') == 1


def test_one_percent_corrupted_replies_are_survived(driver, fault_file):
    apply_faults(fault_file, corrupt_rate=0.01)
    fresh = 0
    for _ in range(600):
        fresh += driver.cycle(time.monotonic())
    assert driver.failed_reads > 0          # corruption really happened
    assert fresh >= 590                     # and a retry hid it
    assert not driver.offline


def test_overheating_is_an_error_and_a_reboot_once_cooled_brings_torque_back(
        driver, fault_file):
    lid = driver.config.actuator('eyelid_left_lower_close')
    apply_faults(fault_file, overheating=[20])
    _run_until(driver, lambda: _status(driver, 'eyelid_left_lower_close').level == ERROR,
               'eyelid_left_lower_close at ERROR')
    assert 'overheating' in _status(driver, 'eyelid_left_lower_close').message
    # Every health read that finds the hot servo could reboot it: none may.
    _run_until(driver, _health_reads(driver, 20, 5), 'five health reads of the hot servo')
    assert driver.reboots == 0, 'rebooted while still hot'
    assert driver.bus.read(lid, 'hardware_error_status') != 0
    apply_faults(fault_file)   # it has cooled; the bit stays latched until a REBOOT
    _run_until(driver, lambda: _status(driver, 'eyelid_left_lower_close').level != ERROR,
               'eyelid_left_lower_close no longer at ERROR')
    assert driver.reboots == 1
    assert driver.bus.read(lid, 'torque_enable') == 1
    assert driver.bus.read(lid, 'bus_watchdog') == driver.bus.watchdog_units
    assert any('rebooted to clear overheating' in line for line in driver.logs)


def test_torque_off_ignores_commands(driver):
    ok, message = driver.set_torque(False)
    assert ok and 'off' in message
    taken, _, reason = driver.submit(['jaw_open'], [0.3], [], 10, time.monotonic())
    assert taken == [] and 'torque is off' in reason
    assert driver.bus.read(driver.config.actuator('jaw_open'), 'torque_enable') == 0
    ok, _ = driver.set_torque(True)
    assert ok


def test_replies_delayed_within_the_timeout_are_survived_and_longer_ones_reported(
        driver, fault_file):
    apply_faults(fault_file, delay_ms=5, delay_ids=[7])
    _run_cycles(driver, 50)
    assert not driver.offline
    apply_faults(fault_file, delay_ms=200, delay_ids=[7])   # beyond the 34 ms reply timeout
    _run_until(driver, lambda: 7 in driver.offline, 'servo 7 offline')
    assert _status(driver, 'upper_lip_center_raise').level == ERROR
    apply_faults(fault_file)
    _run_until(driver, lambda: 7 not in driver.offline, 'servo 7 back online')


def test_overload_is_an_error_cleared_by_a_reboot(driver, fault_file):
    driver.settings.reboot_interval = 0.3
    apply_faults(fault_file, overload=[1])
    _run_until(driver, lambda: _status(driver, 'jaw_open').level == ERROR, 'jaw_open at ERROR')
    status = _status(driver, 'jaw_open')
    assert 'overload' in status.message
    assert status.values['hardware_error'] == 'overload'
    apply_faults(fault_file)   # the joint is free again
    _run_until(driver, lambda: _status(driver, 'jaw_open').level == OK, 'jaw_open OK again')
    assert driver.reboots >= 1
    jaw = driver.config.names.index('jaw_open')
    _run_until(driver, lambda: abs(driver.position[jaw] - 0.2) < 0.01,
               'the jaw obeying again (at 0.2)', command=(['jaw_open'], [0.2]))


def test_a_servo_that_lost_torque_on_its_own_is_configured_again(driver):
    lip = driver.config.actuator('lip_corner_left_raise')
    _run_cycles(driver, 20)
    driver.bus.write(lip, 'torque_enable', 0)    # as after a brown-out
    _run_until(driver, lambda: driver.resets == 1, 'the reset found')
    _run_until(driver, lambda: driver.bus.read(lip, 'torque_enable') == 1, 'torque on again')
    assert any('came back with torque off' in line for line in driver.logs)


def test_shutdown_leaves_the_face_neutral_with_torque_off(face_config, emulator):
    d = FaceDriver(face_config, FaceBus(face_config, port=emulator.port),
                   DriverSettings(neutral_duration=0.3))
    d.start()
    _run_until(d, lambda: abs(d.position[0] - 0.35) < 0.01, 'the jaw at 0.35',
               command=(['jaw_open'], [0.35]))
    jaw = face_config.actuator('jaw_open')
    assert d.position[0] == pytest.approx(0.35, abs=0.01)
    d.shutdown()
    assert not d.bus._opened
    observer = FaceBus(face_config, port=emulator.port)
    observer.open()
    try:
        assert observer.read(jaw, 'torque_enable') == 0
        assert observer.read_position(jaw) == pytest.approx(jaw.neutral, abs=0.01)
    finally:
        observer.close()
