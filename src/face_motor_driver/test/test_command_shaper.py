import math

import numpy as np
import pytest

from face_motor_driver.command_shaper import CommandShaper


@pytest.fixture
def shaper(face_config):
    s = CommandShaper(face_config.actuators, command_timeout=0.5, neutral_duration=1.0)
    s.reset([a.neutral for a in face_config.actuators], now=0.0)
    return s


def _run(shaper, start, stop, dt=0.005):
    t = start
    while t < stop - 1e-9:
        t += dt
        shaper.step(t)
    return t


def test_targets_are_clamped_to_limits(shaper, face_config):
    taken, clamped = shaper.submit(['jaw_open', 'eye_left_yaw'], [5.0, -0.2], [], 10, 0.0)
    assert taken == ['jaw_open', 'eye_left_yaw'] and clamped == ['jaw_open']
    _run(shaper, 0.0, 0.4)
    jaw = shaper.index['jaw_open']
    assert shaper.goal[jaw] == pytest.approx(face_config.actuator('jaw_open').max)
    assert np.all(shaper.goal <= shaper.upper) and np.all(shaper.goal >= shaper.lower)


def test_slew_rate_is_limited_by_config_and_by_the_command(shaper, face_config):
    i = shaper.index['eye_left_yaw']      # max_velocity 8 rad/s
    shaper.submit(['eye_left_yaw'], [0.5], [], 10, 0.0)
    shaper.step(0.01)
    assert shaper.goal[i] == pytest.approx(0.08)
    shaper.submit(['eye_left_yaw'], [-0.5], [2.0], 10, 0.01)
    shaper.step(0.02)
    assert shaper.goal[i] == pytest.approx(0.06)
    shaper.submit(['eye_left_yaw'], [0.5], [math.nan], 10, 0.02)  # NaN = driver's limit
    shaper.step(0.03)
    assert shaper.goal[i] == pytest.approx(0.14)


def test_a_stalled_cycle_is_not_one_big_step(shaper):
    i = shaper.index['eye_left_yaw']
    shaper.submit(['eye_left_yaw'], [0.5], [], 10, 0.0)
    shaper.step(0.0)
    shaper.step(0.3)   # 300 ms without a cycle
    assert shaper.goal[i] <= 8.0 * 0.05 + 1e-12


def test_higher_priority_wins_until_its_claim_expires(shaper):
    i = shaper.index['lip_corner_left_raise']
    shaper.submit(['lip_corner_left_raise'], [0.3], [], 20, 0.0)
    taken, _ = shaper.submit(['lip_corner_left_raise'], [-0.3], [], 10, 0.1)
    assert taken == []
    assert shaper.target[i] == pytest.approx(0.3)
    taken, _ = shaper.submit(['lip_corner_left_raise'], [-0.3], [], 10, 0.6)
    assert taken == ['lip_corner_left_raise']
    assert shaper.target[i] == pytest.approx(-0.3)


def test_command_timeout_eases_to_neutral(shaper, face_config):
    i = shaper.index['jaw_open']
    shaper.submit(['jaw_open'], [0.4], [], 10, 0.0)
    t = _run(shaper, 0.0, 0.45)
    assert shaper.goal[i] == pytest.approx(0.4)
    t = _run(shaper, t, 0.55)     # timed out: starts easing
    assert shaper.target[i] == pytest.approx(0.0)
    t = _run(shaper, t, 1.0)
    assert 0.05 < shaper.goal[i] < 0.4   # easing, not jumping (1 s to neutral)
    _run(shaper, t, 1.7)
    assert shaper.goal[i] == pytest.approx(face_config.actuator('jaw_open').neutral)


def test_go_neutral_holds_commands_off_until_reached(shaper):
    i = shaper.index['brow_left_inner_raise']
    shaper.submit(['brow_left_inner_raise'], [0.5], [], 10, 0.0)
    t = _run(shaper, 0.0, 0.2)
    shaper.go_neutral(0.5)
    assert shaper.holding_neutral
    assert shaper.submit(['brow_left_inner_raise'], [0.5], [], 200, t)[0] == []
    t = _run(shaper, t, t + 0.3)
    assert shaper.holding_neutral and shaper.goal[i] > 0
    _run(shaper, t, t + 0.3)
    assert not shaper.holding_neutral and shaper.goal[i] == pytest.approx(0.0)


def test_reach_time_slows_the_goal_to_arrive_then(shaper):
    i = shaper.index['eye_left_yaw']      # 8 rad/s would take 50 ms for 0.4 rad
    shaper.submit(['eye_left_yaw'], [0.4], [], 10, 0.0, reach_in=0.2)
    t = _run(shaper, 0.0, 0.1)
    assert shaper.goal[i] == pytest.approx(0.2, abs=0.01)
    _run(shaper, t, 0.2)
    assert shaper.goal[i] == pytest.approx(0.4, abs=1e-6)
