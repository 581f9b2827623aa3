"""Babbling poses, smooth moves and settle detection (plain Python)."""

import numpy as np
import pytest

from face_motor_driver.face_config import default_face_config_path, load_face_config
from mirror_calibration.babbling import (
    RAMP_TIME,
    SPEED_MARGIN,
    TOUR_BLOCK,
    BabbleError,
    SettleDetector,
    babble_poses,
    babbled_actuators,
    nearest_in_time,
    ramped_move,
    transition_time,
)

FACE = load_face_config(default_face_config_path())
LOWER = np.array([a.min for a in FACE.actuators])
UPPER = np.array([a.max for a in FACE.actuators])
NEUTRAL = np.array([a.neutral for a in FACE.actuators])


def test_poses_cover_each_range_within_limits():
    lips = babbled_actuators(FACE, ['jaw', 'lips'])
    assert len(lips) == len(FACE.lip_actuators)
    poses = babble_poses(FACE, lips, seed=1, start=0, count=256)
    assert np.all(poses >= LOWER) and np.all(poses <= UPPER)
    others = [i for i in range(len(FACE.actuators)) if i not in lips]
    np.testing.assert_array_equal(poses[:, others], np.tile(NEUTRAL[others], (256, 1)))
    unit = (poses[:, lips] - LOWER[lips]) / (UPPER[lips] - LOWER[lips])
    for column in unit.T:  # every tenth of every range is visited about equally
        counts = np.histogram(column, bins=10, range=(0, 1))[0]
        assert counts.min() >= 20 and counts.max() <= 32


def test_sequence_resumes_exactly():
    every = babble_poses(FACE, babbled_actuators(FACE, []), seed=5, start=0, count=40)
    resumed = babble_poses(FACE, babbled_actuators(FACE, []), seed=5, start=25, count=15)
    np.testing.assert_allclose(resumed, every[25:])
    other_seed = babble_poses(FACE, babbled_actuators(FACE, []), seed=6, start=0, count=40)
    assert not np.allclose(other_seed, every)


def test_each_block_is_the_block_of_sobol_points_in_a_shorter_order():
    from scipy.stats import qmc

    lips = babbled_actuators(FACE, ['jaw', 'lips'])
    poses = babble_poses(FACE, lips, seed=3, start=0, count=3 * TOUR_BLOCK)
    unit = qmc.Sobol(d=len(lips), scramble=True, seed=3).random(4 * TOUR_BLOCK)
    sobol = LOWER[lips] + unit * (UPPER[lips] - LOWER[lips])
    for block in range(3):
        part = slice(block * TOUR_BLOCK, (block + 1) * TOUR_BLOCK)
        np.testing.assert_allclose(poses[part][0, lips], sobol[part][0])  # starts at its first
        np.testing.assert_allclose(np.sort(poses[part][:, lips], axis=0),
                                   np.sort(sobol[part], axis=0))       # the same points

    def mean_move(sequence):
        full = np.tile(NEUTRAL, (len(sequence), 1))
        full[:, lips] = sequence
        return np.mean([transition_time(FACE, a, b, 0.0) for a, b in zip(full, full[1:])])
    assert mean_move(poses[:, lips]) < 0.8 * mean_move(sobol)
    # a session resumed inside a block continues the same tour
    np.testing.assert_allclose(babble_poses(FACE, lips, seed=3, start=100, count=50),
                               poses[100:150])


def test_unknown_group_is_named():
    with pytest.raises(BabbleError, match='ears'):
        babbled_actuators(FACE, ['ears'])


def test_moves_are_smooth_and_within_speed_limits():
    limits = np.array([a.max_velocity for a in FACE.actuators])
    for start, goal in ((LOWER, UPPER), (NEUTRAL, NEUTRAL + 0.01)):   # cruising; ramps only
        duration = transition_time(FACE, start, goal, requested=0.0)
        times = np.linspace(0, duration, 4001)
        path = np.array([ramped_move(start, goal, t, duration) for t in times])
        np.testing.assert_allclose(path[0], start)
        np.testing.assert_allclose(path[-1], goal)
        speed = np.gradient(path, times, axis=0)
        assert np.all(np.abs(speed).max(axis=0) <= SPEED_MARGIN * limits * 1.001)
        assert np.abs(speed[[0, -1]]).max() < 0.01 * limits.min()   # starts and ends at rest
        acceleration = np.gradient(speed, times, axis=0)
        peak = np.abs(speed).max(axis=0)
        # continuous acceleration, at most pi / (2 ramp) times the top speed
        assert np.all(np.abs(acceleration).max(axis=0) <= np.pi / (2 * RAMP_TIME) * peak * 1.01)
        assert np.abs(acceleration[[0, -1]]).max() < 0.05 * np.abs(acceleration).max()
    assert transition_time(FACE, LOWER, LOWER, requested=0.3) == 0.3


def test_a_lagging_servo_led_by_its_lag_stops_with_the_commands():
    lag, dt = 0.03, 1e-4
    start, goal = LOWER.copy(), UPPER.copy()
    duration = transition_time(FACE, start, goal, requested=0.0)
    ends = {}
    for lead in (0.0, lag):
        servo = start.copy()
        for t in np.arange(0.0, duration, dt):   # first-order lag, time constant lag
            servo += (ramped_move(start, goal, t, duration, lead) - servo) * dt / lag
            path = ramped_move(start, goal, t + dt, duration)
        ends[lead] = np.abs(servo - path).max()
    assert ends[lag] < 0.001, 'led by its lag the servo moves along the path'
    assert ends[0.0] > 0.02, 'without the lead it is left behind'


def test_settle_needs_stillness_after_the_move():
    detector = SettleDetector(window=0.05, still=0.002)
    for k in range(10):  # still moving
        detector.add(1.0 + 0.01 * k, [0.01 * k])
    assert not detector.settled(since=1.0)
    for k in range(10):  # holding
        detector.add(1.1 + 0.01 * k, [0.1])
    assert detector.settled(since=1.1)
    # still from the last state at or before the start of the last 50 ms on, however long
    # it has held before
    assert detector.still_since(since=1.1) == pytest.approx(1.14)
    detector.add(1.195, [0.1])
    assert detector.still_since(since=1.1) == pytest.approx(1.14)
    assert not detector.settled(since=1.2), 'nothing seen since then yet'
    detector.add(1.21, [float('nan')])  # an unmeasured joint never counts as settled data
    assert not detector.settled(since=1.205)


def test_dropped_joint_states_do_not_make_a_moving_face_still():
    detector = SettleDetector(window=0.04, still=0.003)
    for k in range(10):   # moving at 0.2 rad/s, joint states every 10 ms ...
        detector.add(1.0 + 0.01 * k, [0.002 * k])
    detector.add(1.135, [0.027])   # ... then only one more, 45 ms later
    assert not detector.settled(since=1.0), 'one state in the window is no stillness'
    detector.add(1.14, [0.027])
    assert not detector.settled(since=1.0)


def test_nearest_in_time():
    value, gap = nearest_in_time([1.0, 2.0, 3.0], ['a', 'b', 'c'], 2.2)
    assert value == 'b' and gap == pytest.approx(0.2)
    assert nearest_in_time([], [], 1.0)[0] is None
