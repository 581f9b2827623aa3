"""The one sync estimator (metrics.sync_offset_ms): sign, sub-frame resolution, sums."""

import numpy as np
import pytest

from lip_policy import metrics


def opening(t):
    """A smooth speech-like mouth opening at times t [s]."""
    return sum(np.sin(2 * np.pi * f * t + f) / f for f in (1.3, 2.9, 4.1))


@pytest.mark.parametrize('delay_ms', [0.0, 23.0, -37.0, 4.0])
def test_sync_offset_is_positive_when_the_lips_are_late_and_finer_than_a_frame(delay_ms):
    t = np.arange(400) / 100.0  # 4 s of 10 ms frames
    truth = opening(t)
    late = opening(t - delay_ms / 1000)  # the prediction shows each moment delay_ms later
    assert metrics.sync_offset_ms(late, truth) == pytest.approx(delay_ms, abs=2.0)


def test_peak_of_summed_cross_correlations_is_the_group_offset():
    t = np.arange(300) / 100.0
    truth = opening(t)
    xcorr = sum(metrics.cross_correlation(opening(t - d), truth) for d in (0.02, 0.03))
    assert len(xcorr) == 2 * metrics.SYNC_MAX_LAG + 1
    assert metrics.peak_lag_ms(xcorr) == pytest.approx(25.0, abs=3.0)
