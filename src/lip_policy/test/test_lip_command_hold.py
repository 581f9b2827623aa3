"""The seal hold of the lip policy (issue #17 item 3): a sealed frame's pose is held over
seal_hold around it, reached and left within the actuators' speed limits, streamed as the
whole clip gives it, and off at 0. Plain python on synthetic poses; the policy parts with
the small real models (conftest)."""

import numpy as np
import pytest

from face_common.frames import FRAME_PERIOD
from lip_policy.lip_command import LipPolicy, PolicyConfig, offline_poses
from lip_policy.pose_filters import (
    PACE_HORIZON,
    SealHold,
    hold_pins,
    hold_span,
    pace_poses,
    seal_pins,
)
from lip_policy.resample import Resampler

T0 = 1000.0  # [s] playback time of the first sample


def test_hold_span_centres_the_hold_on_the_sealed_frame():
    assert hold_span(1) == (0, 0)
    assert hold_span(7) == (3, 3)
    assert hold_span(8) == (3, 4)
    assert sum(hold_span(5)) + 1 == 5


def dip(frames=120, at=60, width=1, depth=-0.4, noise=0.0, seed=0):
    """Two actuators resting at 0.2 and -0.1 with a sealed dip of `width` frames at `at`
    (actuator 0 goes to `depth`), and the sealed flags and gaps of a retargeting."""
    rng = np.random.default_rng(seed)
    poses = np.tile([0.2, -0.1], (frames, 1)) + rng.normal(scale=noise, size=(frames, 2))
    poses[at:at + width, 0] = depth
    sealed = np.zeros(frames, bool)
    sealed[at:at + width] = True
    gaps = np.where(sealed, 0.01, 0.3)
    return poses, sealed, gaps


@pytest.mark.parametrize('hold_frames', [1, 2, 7, 8])
def test_a_sealed_frame_pins_hold_frames_around_it(hold_frames):
    poses, sealed, gaps = dip()
    pins = seal_pins(sealed, gaps, poses, hold_frames)
    pinned = np.flatnonzero(np.isfinite(pins[:, 0]))
    before, after = hold_span(hold_frames)
    np.testing.assert_array_equal(pinned, np.arange(60 - before, 61 + after))
    assert len(pinned) == hold_frames
    np.testing.assert_array_equal(pins[pinned], np.repeat(poses[60:61], hold_frames, 0))


def test_several_sealed_frames_hold_the_nearest_then_the_most_closed():
    poses = np.arange(40, dtype=float)[:, None] * [1.0, -1.0]
    sealed = np.zeros(40, bool)
    sealed[[10, 11, 14]] = True
    gaps = np.full(40, 0.3)
    gaps[[10, 11, 14]] = [0.02, 0.01, 0.03]
    pins = seal_pins(sealed, gaps, poses, 5)  # 2 frames each side
    held = {k: int(pins[k, 0]) for k in np.flatnonzero(np.isfinite(pins[:, 0]))}
    # 8, 9 -> 10; 10 itself; 11, 12 -> 11; 13 is 2 from 11 and 1 from 14 -> 14; 15, 16 -> 14
    assert held == {8: 10, 9: 10, 10: 10, 11: 11, 12: 11, 13: 14, 14: 14, 15: 14, 16: 14}
    # a tie in distance goes to the more closed frame
    sealed[[11, 14]] = False
    sealed[12] = True
    gaps[12] = 0.005
    pins = seal_pins(sealed, gaps, poses, 5)
    assert pins[11, 0] == 12  # 1 from 10 and 1 from 12: 12 is more closed


def test_no_hold_at_zero():
    poses, sealed, gaps = dip()
    assert np.isnan(seal_pins(sealed, gaps, poses, 0)).all()


@pytest.mark.parametrize('hold_frames', [1, 4, 7])
def test_the_streamed_hold_decides_the_pins_of_the_whole_stream(hold_frames):
    rng = np.random.default_rng(hold_frames)
    frames = 400
    poses = rng.normal(size=(frames, 3))
    gaps = rng.uniform(0, 0.3, frames)
    sealed = gaps < 0.04
    times = T0 + np.arange(frames) * FRAME_PERIOD
    whole = seal_pins(sealed, gaps, poses, hold_frames)
    hold = SealHold(hold_frames)
    cuts = [0, 1, 2, 3, 10, 11, 50, 51, 52, 200, 333, frames]
    streamed = np.full(poses.shape, np.nan)
    decided_before = 0
    for a, b in zip(cuts[:-1], cuts[1:]):
        got_times, pins = hold.push(times[a:b], sealed[a:b], gaps[a:b], poses[a:b])
        streamed[np.round((got_times - T0) / FRAME_PERIOD).astype(int)] = pins
        # decided as soon as the frames `before` after it are in, never later
        assert hold.decided == max(b - hold_span(hold_frames)[0], decided_before)
        decided_before = hold.decided
    got_times, pins = hold.finish()
    streamed[np.round((got_times - T0) / FRAME_PERIOD).astype(int)] = pins
    assert hold.decided == frames
    np.testing.assert_array_equal(streamed, whole)
    assert np.isfinite(whole[:, 0]).sum() > 20, 'the test stream has seals to hold'


def max_step_of(limits):
    return np.asarray(limits, float) * FRAME_PERIOD


def test_the_hold_reaches_and_keeps_the_seal_within_the_speed_limits():
    poses, sealed, gaps = dip(width=1, noise=0.01)
    max_step = max_step_of([4.0, 6.0])  # 0.04 and 0.06 rad a frame
    paced = pace_poses(poses, max_step, poses[0])
    # Paced alone, a one-frame seal 0.6 rad deep is never reached (half way at most).
    assert paced[:, 0].min() > -0.1
    hold_frames = 7
    pins = seal_pins(sealed, gaps, poses, hold_frames)
    held = hold_pins(paced, pins, max_step)
    pinned = np.isfinite(pins[:, 0])
    # Held for hold_frames (>= 2 frames of a 30 Hz camera) at the sealed pose ...
    assert pinned.sum() * FRAME_PERIOD >= 2 / 30
    np.testing.assert_allclose(held[pinned], pins[pinned], atol=1e-12)
    # ... reached early and left within the speed limits, ...
    assert np.all(np.abs(np.diff(held, axis=0)) <= max_step + 1e-12)
    first = np.flatnonzero(pinned)[0]
    assert held[first - 5, 0] < paced[first - 5, 0] - 0.15, 'it moves towards the seal early'
    # ... and far from it the paced poses are left alone.
    np.testing.assert_array_equal(held[:first - 20], paced[:first - 20])
    np.testing.assert_array_equal(held[first + 40:], paced[first + 40:])


def test_the_hold_keeps_to_the_limits_between_seals_it_cannot_both_reach():
    rng = np.random.default_rng(3)
    poses = rng.uniform(-0.3, 0.3, size=(300, 4))
    max_step = max_step_of([4.0, 6.0, 8.0, 10.0])
    paced = pace_poses(poses, max_step, poses[0])
    sealed = rng.uniform(size=300) < 0.08  # seals too close for the limits to reach all
    pins = seal_pins(sealed, rng.uniform(0, 0.04, 300), poses, 7)
    held = hold_pins(paced, pins, max_step)
    assert np.all(np.abs(np.diff(held, axis=0)) <= max_step + 1e-12)
    assert np.all((held >= -0.3 - 1e-12) & (held <= 0.3 + 1e-12)), 'inside the poses\' range'


def test_a_window_of_pins_gives_what_the_whole_schedule_gives():
    rng = np.random.default_rng(4)
    poses = rng.uniform(-0.3, 0.3, size=(400, 3))
    max_step = max_step_of([4.0, 6.0, 8.0])
    paced = pace_poses(poses, max_step, poses[0])
    pins = seal_pins(rng.uniform(size=400) < 0.05, rng.uniform(0, 0.04, 400), poses, 7)
    whole = hold_pins(paced, pins, max_step)
    for first, stop in ((0, 3), (57, 60), (100, 180), (390, 400), (0, 400)):
        lo = max(first - PACE_HORIZON, 0)
        window = hold_pins(paced[first:stop], pins[lo:stop + PACE_HORIZON], max_step,
                           offset=first - lo)
        np.testing.assert_array_equal(window, whole[first:stop])


def test_without_speed_limits_pinned_frames_show_their_pins():
    poses, sealed, gaps = dip(width=2)
    pins = seal_pins(sealed, gaps, poses, 7)
    held = hold_pins(poses + 0.05, pins, None)
    pinned = np.isfinite(pins[:, 0])
    np.testing.assert_array_equal(held[pinned], pins[pinned])
    np.testing.assert_array_equal(held[~pinned], poses[~pinned] + 0.05)


# --- the policy --------------------------------------------------------------------------

@pytest.fixture(scope='module')
def speech(models):
    from lip_policy import corpus

    clip = max(corpus.load_corpus(models.corpus), key=lambda c: len(c.audio))
    return clip.audio.astype(np.float64)


def policy_of(parts, limits=None, **config):
    predictor, to_actuators = parts
    return LipPolicy(predictor, to_actuators, to_actuators.names, to_actuators.neutral,
                     PolicyConfig(**config), max_velocity=limits)


def push_all(policy, audio, rate, sizes, now_offset=-2.0):
    from lip_policy.lip_command import Chunk

    pos = 0
    for seq, size in enumerate(sizes):
        if pos >= len(audio):
            break
        stamp = T0 + pos / rate
        policy.push(Chunk(rate, 1, audio[pos:pos + size].astype(np.float32), seq), stamp,
                    stamp + now_offset)
        pos += size


# The small models' lips rarely read sealed at 5 % of the width: a wider seal_gap gives the
# test clip seals to hold.
TEST_SEAL_GAP = 0.3


def test_the_policy_streams_the_hold_like_the_whole_clip(parts, speech):
    from scipy.signal import resample_poly

    limits = np.full(len(parts[1].names), 3.0)  # [rad/s]
    policy = policy_of(parts, limits, actuator_lag=0.04, history=60.0, seal_hold=0.07,
                       seal_gap=TEST_SEAL_GAP)
    assert policy.hold_frames == 7
    rate = 22050
    audio = resample_poly(speech, 441, 320).astype(np.float32).astype(np.float64)
    push_all(policy, audio, rate, np.random.default_rng(6).integers(1, 1500, 10000))
    times, held = policy.paced_schedule()
    # Commands on frame times are the held schedule, and keep to the limits.
    commands = np.array([policy.command(t - 0.04).positions for t in times[:-60]])
    np.testing.assert_allclose(commands, held[:-60], atol=1e-9)
    assert np.all(np.abs(np.diff(commands, axis=0)) <= limits * FRAME_PERIOD + 1e-9)
    policy.end_segment()
    times, held = policy.paced_schedule()
    pinned = np.isfinite(policy.pins[:, 0])
    assert pinned.sum() >= 7, 'the clip has seals to hold'
    assert np.all(np.abs(np.diff(held, axis=0)) <= limits * FRAME_PERIOD + 1e-9)
    # the whole streamed schedule equals the whole-clip reference
    whole = Resampler(rate)
    at_16k = np.concatenate([whole.push(audio), whole.flush()])
    reference = offline_poses(policy, at_16k)[1]
    difference = np.abs(held - reference)
    assert difference.max() < 2e-3, f'largest difference {difference.max():.2e} rad'
    # and it differs from the policy without the hold where it holds
    plain = policy_of(parts, limits, history=60.0, seal_hold=0.0)
    assert plain.hold_frames == 0
    unheld = offline_poses(plain, at_16k)[1]
    assert np.abs(reference - unheld)[pinned].max() > 0.01


def test_each_held_run_lasts_the_seal_hold(parts, speech):
    policy = policy_of(parts, np.full(len(parts[1].names), 3.0), history=60.0,
                       seal_hold=0.07, seal_gap=TEST_SEAL_GAP)
    push_all(policy, speech, 16000, [320] * 10000)
    policy.end_segment()
    pinned = np.isfinite(policy.pins[:, 0]).astype(int)
    edges = np.diff(np.concatenate([[0], pinned, [0]]))
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    assert len(runs) and runs.min() >= policy.hold_frames


def test_the_hold_is_off_at_zero_and_without_a_retargeting(parts, speech):
    limits = np.full(len(parts[1].names), 3.0)
    off = policy_of(parts, limits, history=60.0, seal_hold=0.0, seal_gap=TEST_SEAL_GAP)
    push_all(off, speech, 16000, [480] * 10000)
    off.end_segment()
    assert off.hold_frames == 0 and np.isnan(off.pins).all()
    times, poses = off.paced_schedule()
    from lip_policy.pose_filters import rate_limited

    backward = rate_limited(off.poses, off.max_step, off.poses[-1], backwards=True)
    np.testing.assert_array_equal(poses, 0.5 * (off.forward + backward))

    predictor, to_actuators = parts

    def bare(human_lips):  # a lips_to_actuators without a retargeting
        return to_actuators(human_lips)

    no_retargeting = LipPolicy(predictor, bare, to_actuators.names, to_actuators.neutral,
                               PolicyConfig(seal_hold=0.07))
    assert no_retargeting.hold_frames == 0


def test_bad_seal_settings_are_refused(parts):
    for config in ({'seal_hold': -0.01}, {'seal_hold': 0.6}, {'seal_gap': -0.1},
                   {'seal_gap': 0.9}):
        with pytest.raises(ValueError, match=list(config)[0]):
            policy_of(parts, **config)
