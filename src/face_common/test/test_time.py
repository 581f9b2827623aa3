"""stamp_seconds and seconds_to_stamp: one stamp-to-seconds, round trips to the nanosecond."""

import types

import pytest

from face_common.frames import FRAME_PERIOD, FRAME_RATE, HOP, SAMPLE_RATE
from face_common.time import seconds_to_stamp, stamp_seconds


def test_stamp_seconds_of_a_stamp():
    stamp = types.SimpleNamespace(sec=12, nanosec=500_000_000)
    assert stamp_seconds(stamp) == 12.5
    assert stamp_seconds(types.SimpleNamespace(sec=0, nanosec=0)) == 0.0


@pytest.mark.parametrize('seconds', [0.0, 1.5, 1_700_000_000.123456789, 0.999_999_999_7])
def test_round_trip_through_a_ros_time(seconds):
    stamp = seconds_to_stamp(seconds)
    assert 0 <= stamp.nanosec < 1_000_000_000
    assert stamp_seconds(stamp) == pytest.approx(seconds, abs=1e-6 if seconds > 1e6 else 1e-9)
    assert seconds_to_stamp(stamp_seconds(stamp)) == stamp


def test_a_stamp_is_filled_in_place():
    stamp = types.SimpleNamespace(sec=0, nanosec=0)
    assert seconds_to_stamp(2.25, stamp) is stamp
    assert (stamp.sec, stamp.nanosec) == (2, 250_000_000)


def test_the_lip_frame_is_10_ms_of_16_khz_audio():
    assert (SAMPLE_RATE, HOP, FRAME_RATE) == (16000, 160, 100)
    assert FRAME_PERIOD == 0.01
