"""What to babble and when a pose has settled (plain Python, no rclpy).

Poses come from a scrambled Sobol sequence over the babbled actuators' [min, max] ranges:
space-filling, so a few hundred poses already cover every actuator's range and every pair
of actuators evenly, and reproducible from (seed, index), so a resumed session continues
exactly where the last one stopped. Actuators that are not babbled rest at neutral.
The sequence visits the Sobol points in blocks of TOUR_BLOCK (points k*64 .. k*64+63, so
every block is a complete, balanced set of Sobol points and every prefix of the sequence
differs from the Sobol prefix by less than one block), each block in a short tour: from its
first point always to the nearest point not yet visited, nearest by move time (the largest
distance over max_velocity among the actuators). Consecutive Sobol points are far apart by
design; in tour order the mean move of jaw + lip babbling takes 0.138 s instead of 0.188 s
(transition_time 0.1 s), which was the largest part of a sample's time.

Moves between poses ramp every actuator's speed up and down along raised-cosine ramps of
RAMP_TIME and cruise in between (zero velocity and acceleration at both ends, acceleration
continuous), timed so that the cruise speed stays under each actuator's max_velocity. That
is as smooth at the ends as a minimum-jerk move but spends its time near the speed limit:
a minimum-jerk move peaks at 1.875 times its mean speed, so under the same limit it took
0.27 s for the median babbling step where this takes 0.19 s. Peak acceleration is
pi / (2 RAMP_TIME) times the cruise speed, 150 rad/s^2 for the lips: below the 200 rad/s^2
a lip servo (30 ms lag) shows when the lip policy's commands meet the driver's slew limit.

A servo follows its goal with a lag (a first-order lag of 30 ms in the emulator), so a face
commanded along that path still moves on after the commands stopped: 110 ms from the end
of the median move until the joints held still. ramped_move(..., lead) therefore commands
the path plus lead x its velocity, which such a servo turns back into the path itself, so
the joints stop with the commands. Those commands run up to 1.57 times the cruise speed
on the ramp up (lead 30 ms); the driver's slew limit clips what is above max_velocity and
the goal catches up while cruising, as the cruise stays SPEED_MARGIN under the limit.
"""

import math
import warnings

import numpy as np
from scipy.stats import qmc

RAMP_TIME = 0.05    # [s] speed ramps of every move, up and down
SPEED_MARGIN = 0.8  # cruise at most at this share of an actuator's max_velocity
TOUR_BLOCK = 64     # Sobol points visited in one nearest-neighbour tour (a power of 2)


class BabbleError(ValueError):
    """A babbling request that cannot be carried out (unknown group, bad counts...)."""


def babbled_actuators(face_config, groups):
    """Indices (config order) of the actuators in groups; all actuators when groups is empty."""
    known = sorted({a.group for a in face_config.actuators})
    unknown = [g for g in groups if g not in known]
    if unknown:
        raise BabbleError(f'unknown actuator group(s) {", ".join(unknown)}; '
                          f'groups in config/face_motors.yaml: {", ".join(known)}')
    return [i for i, a in enumerate(face_config.actuators) if not groups or a.group in groups]


def babble_poses(face_config, babbled, seed, start, count):
    """Poses start .. start+count-1 of the seeded sequence: (count, actuators) [rad].

    The sequence is the scrambled Sobol sequence, each block of TOUR_BLOCK points in the
    order of short_tour (see the module docstring)."""
    if count < 0 or start < 0:
        raise BabbleError('start and count must be >= 0')
    acts = face_config.actuators
    poses = np.tile(np.array([a.neutral for a in acts]), (count, 1))
    if count == 0 or not babbled:
        return poses
    first_block = start // TOUR_BLOCK
    blocks = (start + count - 1) // TOUR_BLOCK - first_block + 1
    sobol = qmc.Sobol(d=len(babbled), scramble=True, seed=int(seed))
    if first_block:
        sobol.fast_forward(first_block * TOUR_BLOCK)
    with warnings.catch_warnings():
        # Sessions stop at any count, not at powers of two; coverage stays near-uniform.
        warnings.simplefilter('ignore', UserWarning)
        unit = sobol.random(blocks * TOUR_BLOCK)      # (blocks x TOUR_BLOCK, babbled) in [0, 1)
    lower = np.array([acts[i].min for i in babbled])
    upper = np.array([acts[i].max for i in babbled])
    seconds = (upper - lower) / np.array([acts[i].max_velocity for i in babbled])
    ordered = np.concatenate([
        block[short_tour(block * seconds)] for block in unit.reshape(blocks, TOUR_BLOCK, -1)])
    skip = start - first_block * TOUR_BLOCK
    poses[:, babbled] = lower + ordered[skip:skip + count] * (upper - lower)
    return poses


def short_tour(points):
    """Visiting order of points (n, d): from the first, always to the nearest one not yet
    visited (largest coordinate difference); a greedy tour, deterministic."""
    left = list(range(1, len(points)))
    order = [0]
    while left:
        distance = np.abs(points[left] - points[order[-1]]).max(axis=1)
        order.append(left.pop(int(np.argmin(distance))))
    return np.array(order)


def transition_time(face_config, start, goal, requested):
    """Seconds for a ramped move start -> goal that respects every max_velocity."""
    speeds = np.array([a.max_velocity for a in face_config.actuators]) * SPEED_MARGIN
    needed = float(np.max(np.abs(np.asarray(goal) - np.asarray(start)) / speeds))
    return max(float(requested), needed + RAMP_TIME, 2 * RAMP_TIME)


def ramped_move(start, goal, elapsed, duration, lead=0.0):
    """Command elapsed [s] into the ramped move start -> goal lasting duration [s].

    Speed: raised-cosine ramps of min(RAMP_TIME, duration / 2) at both ends, constant in
    between; so the top speed is distance / (duration - ramp). lead [s]: command the pose
    plus lead x velocity, which a servo with a first-order lag of time constant lead
    follows along the ramped path itself (see the module docstring).
    """
    if duration <= 0 or elapsed >= duration:
        return np.asarray(goal, dtype=float)
    ramp = min(RAMP_TIME, duration / 2)

    def ramp_distance(t):   # distance covered t [s] into a ramp, in units of top speed
        return (t - ramp / math.pi * math.sin(math.pi * t / ramp)) / 2

    def ramp_speed(t):      # speed t [s] into a ramp, in units of top speed
        return (1 - math.cos(math.pi * t / ramp)) / 2

    t = max(elapsed, 0.0)
    if t <= ramp:
        covered, speed = ramp_distance(t), ramp_speed(t)
    elif t <= duration - ramp:
        covered, speed = ramp / 2 + (t - ramp), 1.0
    else:
        covered = (duration - ramp) - ramp_distance(duration - t)
        speed = ramp_speed(duration - t)
    s = (covered + lead * speed) / (duration - ramp)
    return np.asarray(start) + s * (np.asarray(goal) - np.asarray(start))


class SettleDetector:
    """Decides when measured joints have stopped moving near their target.

    Settled = over the last `window` seconds (from the last joint state at or before its
    start) every measured joint moved less than `still` radians, and all joint states of
    that window were seen after the move ended.
    """

    def __init__(self, window=0.06, still=0.003):
        if window <= 0 or still <= 0:
            raise BabbleError('settle window and stillness tolerance must be positive')
        self.window, self.still = window, still
        self._samples = []  # (time [s], positions (A,))

    def reset(self):
        self._samples.clear()

    def add(self, stamp, positions):
        positions = np.asarray(positions, dtype=float)
        if np.all(np.isfinite(positions)):
            self._samples.append((float(stamp), positions))
        horizon = float(stamp) - 4 * self.window
        while self._samples and self._samples[0][0] < horizon:
            self._samples.pop(0)

    def settled(self, since):
        """True when joints have been still for `window` seconds, all after time since."""
        return self.still_since(since) is not None

    def still_since(self, since):
        """Stamp of the first joint state of the still window, or None if not settled.

        The joints have been still from then on (every later state moved less than `still`
        from it), so a frame captured after it shows the settled face, even one captured
        before the stillness could be confirmed.
        """
        recent = [(t, p) for t, p in self._samples if t >= since]
        if len(recent) < 2 or recent[-1][0] - recent[0][0] < self.window:
            return None
        start = recent[-1][0] - self.window
        # The window from the last state at or before its start on, so it spans the whole
        # window even when states were dropped (a busy machine's best-effort joint states):
        # a window holding only the latest state would count a moving face as still.
        first = max(i for i, (t, _) in enumerate(recent) if t <= start)
        window = recent[first:]
        if np.max(np.ptp(np.array([p for _, p in window]), axis=0)) >= self.still:
            return None
        return window[0][0]


def nearest_in_time(stamps, values, when):
    """The value whose stamp is nearest to when, and that distance [s]; (None, inf) if none."""
    if len(stamps) == 0:
        return None, math.inf
    stamps = np.asarray(stamps, dtype=float)
    best = int(np.argmin(np.abs(stamps - when)))
    return values[best], float(abs(stamps[best] - when))
