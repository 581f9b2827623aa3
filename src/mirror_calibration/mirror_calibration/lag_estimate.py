"""How long one signal trails another: the timing estimator of mirror-lag, plain numpy.

estimate_lag resamples two series onto a common grid and finds the shift that best aligns
them (the peak of their correlation, refined between grid steps by refined_peak); fit_servo
fits a first-order lag plus dead time to a servo's response. refined_peak is also the peak
finder of lip_policy.metrics.sync_offset_ms, so every lag in the suite is found the same way.
No rclpy import: the probe (lag_probe) records the series, this times them.
"""

import numpy as np

GRID = 0.005  # [s] resampling step of the lag estimate
MAX_LAG = 0.3  # [s] longest lag searched


class LagError(RuntimeError):
    """The lag could not be measured; the text says what to do."""


def estimate_lag(t_cause, cause, t_effect, effect, max_lag=MAX_LAG):
    """(lag [s], peak correlation) by which `effect` follows `cause` (both 1-D series)."""
    start, stop = max(t_cause[0], t_effect[0]), min(t_cause[-1], t_effect[-1])
    if stop - start < 4 * max_lag:
        raise LagError(f'only {max(stop - start, 0):.1f} s of overlapping data to time; '
                       'the face or the camera stopped delivering')
    grid = np.arange(start, stop, GRID)
    a = np.interp(grid, t_cause, cause)
    b = np.interp(grid, t_effect, effect)
    a, b = a - a.mean(), b - b.mean()
    if a.std() == 0 or b.std() == 0:
        raise LagError('the signal did not move; is torque on and the face in view?')
    shifts = np.arange(0, int(round(max_lag / GRID)) + 1)
    n = len(grid)
    scores = np.array([np.corrcoef(a[:n - s], b[s:])[0, 1] for s in shifts])
    return float(refined_peak(scores) * GRID), float(scores.max())


def refined_peak(scores):
    """Index of the largest of evenly spaced scores, refined between samples by the parabola
    through it and its two neighbours (the index itself at an edge or a flat top)."""
    i = int(np.argmax(scores))
    if 0 < i < len(scores) - 1:
        curvature = scores[i - 1] - 2 * scores[i] + scores[i + 1]
        if curvature < 0:
            return i + 0.5 * (scores[i - 1] - scores[i + 1]) / curvature
    return float(i)


def first_order(t, x, tau):
    """x (sampled at t) through a first-order lag of time constant tau [s]."""
    if tau <= 0:
        return np.asarray(x, float).copy()
    y = np.empty(len(x))
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = y[i - 1] + min((t[i] - t[i - 1]) / tau, 1.0) * (x[i] - y[i - 1])
    return y


def fit_servo(t_cause, cause, t_effect, effect):
    """(time constant [s], dead time [s], correlation) of the first-order lag plus dead time
    that best turns the commands into the measured positions."""
    grid = np.arange(t_cause[0], t_cause[-1], GRID)
    commanded = np.interp(grid, t_cause, cause)
    best = None
    for tau in np.arange(0.0, 0.1001, GRID):
        delay, r = estimate_lag(grid, first_order(grid, commanded, tau), t_effect, effect)
        if best is None or r > best[2]:
            best = (float(tau), delay, r)
    return best
