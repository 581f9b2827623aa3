"""Diagnostic levels from servo health (the status logic alone; the bus is not needed)."""

import math

import pytest

from face_motor_driver.bus import ServoHealth
from face_motor_driver.control_table import model_spec
from face_motor_driver.driver import ERROR, OK, STALE, WARN, DriverSettings, FaceDriver


@pytest.fixture
def driver(face_config):
    d = FaceDriver(face_config, bus=None, settings=DriverSettings())
    d.effort[:] = 0.0
    for a in face_config.actuators:
        d.health[a.id] = ServoHealth(0, model_spec(a.model).nominal_voltage, 35.0)
    return d


def _status(driver, name):
    return next(s for s in driver.statuses() if s.name == name)


def test_healthy_servos_are_ok(driver):
    assert all(s.level == OK and s.message == 'ok' for s in driver.statuses())


@pytest.mark.parametrize('temperature, level', [(59.0, OK), (62.0, WARN), (70.0, ERROR)])
def test_temperature_levels_follow_the_model_limit(driver, temperature, level):
    driver.health[2] = ServoHealth(0, 5.0, temperature)   # XL330: limit 70 C
    assert _status(driver, 'lip_corner_left_raise').level == level


def test_high_load_and_bad_supply_warn(driver, face_config):
    driver.effort[1] = -0.9 * 1.75                        # 90 % of 1750 mA
    assert _status(driver, 'lip_corner_left_raise').level == WARN
    assert 'load 90 %' in _status(driver, 'lip_corner_left_raise').message
    driver.health[3] = ServoHealth(0, 3.1, 35.0)
    assert 'supply 3.1 V' in _status(driver, 'lip_corner_left_stretch').message


def test_hardware_error_bits_are_errors_that_say_what_to_do(driver):
    driver.health[1] = ServoHealth(0x24, 12.0, 40.0)
    status = _status(driver, 'jaw_open')
    assert status.level == ERROR
    assert 'overheating, overload' in status.message and 'torque is off' in status.message


def test_unread_and_silent_servos(driver):
    del driver.health[5]
    assert _status(driver, 'lip_corner_right_stretch').level == STALE
    driver.offline[6] = 'no answer'
    status = _status(driver, 'upper_lip_left_raise')
    assert status.level == ERROR and 'not answering' in status.message
    assert math.isnan(driver.position[5])
