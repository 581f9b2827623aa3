"""What to babble and when a pose has settled (plain Python, no rclpy).

Poses come from a scrambled Sobol sequence over the babbled actuators' [min, max] ranges:
space-filling, so a few hundred poses already cover every actuator's range and every pair
of actuators evenly, and reproducible from (seed, index), so a resumed session continues
exactly where the last one stopped. Actuators that are not babbled rest at neutral.

Moves between poses follow a minimum-jerk profile (zero velocity and acceleration at both
ends), so the skin is never jerked, timed so that the peak speed stays under each
actuator's max_velocity.
"""

import math
import warnings

import numpy as np
from scipy.stats import qmc

MIN_JERK_PEAK_SPEED = 1.875  # peak / mean speed of the minimum-jerk profile
SPEED_MARGIN = 0.8           # use at most this share of an actuator's max_velocity


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
    """Poses start .. start+count-1 of the seeded sequence: (count, actuators) [rad]."""
    if count < 0 or start < 0:
        raise BabbleError('start and count must be >= 0')
    acts = face_config.actuators
    poses = np.tile(np.array([a.neutral for a in acts]), (count, 1))
    if count == 0 or not babbled:
        return poses
    sobol = qmc.Sobol(d=len(babbled), scramble=True, seed=int(seed))
    if start:
        sobol.fast_forward(start)
    with warnings.catch_warnings():
        # Sessions stop at any count, not at powers of two; coverage stays near-uniform.
        warnings.simplefilter('ignore', UserWarning)
        unit = sobol.random(count)                    # (count, babbled) in [0, 1)
    lower = np.array([acts[i].min for i in babbled])
    upper = np.array([acts[i].max for i in babbled])
    poses[:, babbled] = lower + unit * (upper - lower)
    return poses


def transition_time(face_config, start, goal, requested):
    """Seconds for a minimum-jerk move start -> goal that respects every max_velocity."""
    speeds = np.array([a.max_velocity for a in face_config.actuators]) * SPEED_MARGIN
    needed = float(np.max(np.abs(np.asarray(goal) - np.asarray(start)) / speeds))
    return max(float(requested), MIN_JERK_PEAK_SPEED * needed)


def min_jerk(start, goal, fraction):
    """Pose a fraction [0..1] of the way along the minimum-jerk move start -> goal."""
    t = min(max(fraction, 0.0), 1.0)
    s = t ** 3 * (10 - 15 * t + 6 * t * t)
    return np.asarray(start) + s * (np.asarray(goal) - np.asarray(start))


class SettleDetector:
    """Decides when measured joints have stopped moving near their target.

    Settled = over the last `window` seconds every measured joint moved less than
    `still` radians, and all joint states of that window were seen after the move ended.
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
        recent = [p for t, p in self._samples if t >= since]
        times = [t for t, _ in self._samples if t >= since]
        if len(recent) < 2 or times[-1] - times[0] < self.window:
            return False
        window = np.array([p for t, p in zip(times, recent) if t >= times[-1] - self.window])
        return bool(np.max(np.ptp(window, axis=0)) < self.still)


def nearest_in_time(stamps, values, when):
    """The value whose stamp is nearest to when, and that distance [s]; (None, inf) if none."""
    if len(stamps) == 0:
        return None, math.inf
    stamps = np.asarray(stamps, dtype=float)
    best = int(np.argmin(np.abs(stamps - when)))
    return values[best], float(abs(stamps[best] - when))
