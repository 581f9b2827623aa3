"""The streaming policy core (lip_command and its resample, voice_gate and pose_filters)
with small real models, without ROS.

The models are trained here from tiny data (see lip_policy.testing.small_models): a few espeak-ng
clips for the lip model, a babbling dataset of the stand-in face for the self-model.
"""

import numpy as np
import pytest

from face_common.frames import FRAME_PERIOD
from lip_policy import corpus
from lip_policy.lip_command import (
    Chunk,
    ChunkError,
    LipPolicy,
    PolicyConfig,
    offline_poses,
)
from lip_policy.resample import Resampler

T0 = 1000.0  # [s] playback time of the first sample in these tests




@pytest.fixture(scope='module')
def speech(models):
    clip = max(corpus.load_corpus(models.corpus), key=lambda c: len(c.audio))
    return clip.audio.astype(np.float64)


def assert_same_poses(streamed, offline):
    """Streamed poses equal the whole-clip ones up to float noise. The model computes
    chunks and whole clips in different batch shapes (differences near 1e-6), and where two
    steps of the inverse refinement tie that close, its best-so-far choice can fall on
    either: a few frames may differ by up to a refinement step."""
    difference = np.abs(np.asarray(streamed) - np.asarray(offline))
    assert difference.max() < 2e-3, f'largest difference {difference.max():.2e} rad'
    assert np.mean(difference > 2e-4) < 0.005, f'{np.mean(difference > 2e-4):.2%} differ'


def make_policy(parts, **config):
    predictor, to_actuators = parts
    return LipPolicy(predictor, to_actuators, to_actuators.names, to_actuators.neutral,
                     PolicyConfig(**config))


def stream(policy, audio, rate, sizes, channels=1, int16=False, start=T0, now=None):
    """Push audio (frames, channels) in chunks of the given sizes; returns the notes."""
    audio = np.asarray(audio).reshape(len(audio), channels)
    notes, pos, seq = [], 0, 0
    for size in sizes:
        if pos >= len(audio):
            break
        piece = audio[pos:pos + size].reshape(-1)
        if int16:
            chunk = Chunk(rate, channels, np.zeros(0, np.float32), seq, Chunk.ENCODING_INT16,
                          np.round(piece * 32767).astype(np.int16))
        else:
            chunk = Chunk(rate, channels, piece.astype(np.float32), seq)
        stamp = start + pos / rate
        notes += policy.push(chunk, stamp, stamp if now is None else now)
        pos += size
        seq += 1
    return notes


@pytest.mark.parametrize('rate', [44100, 383_999])  # a filter table; filters per sample
def test_resampler_is_accurate_and_independent_of_chunking(rate):
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 3000 * t)
    whole = Resampler(rate)
    reference = np.concatenate([whole.push(tone), whole.flush()])
    pieces = Resampler(rate)
    cut = np.random.default_rng(1).integers(1, rate // 30, 400).cumsum()
    chunked = np.concatenate([pieces.push(p) for p in np.split(tone, cut[cut < rate])]
                             + [pieces.flush()])
    assert len(reference) == len(chunked) == 16000
    np.testing.assert_allclose(chunked, reference, atol=1e-12)
    u = np.arange(16000) / 16000
    truth = np.sin(2 * np.pi * 440 * u) + 0.5 * np.sin(2 * np.pi * 3000 * u)
    inner = slice(200, -200)  # away from the clip edges, where the filter sees zeros
    assert np.abs(reference[inner] - truth[inner]).max() < 0.01
    # A tone above the new Nyquist frequency is filtered out, not aliased.
    alias = Resampler(rate)
    high = np.concatenate([alias.push(np.sin(2 * np.pi * 12000 * t)), alias.flush()])
    assert np.abs(high[inner]).max() < 0.01


@pytest.mark.parametrize('rate, channels, int16', [(16000, 1, False), (44100, 2, True),
                                                   (22050, 1, False), (8000, 1, False)])
def test_streaming_equals_offline(parts, speech, rate, channels, int16):
    from scipy.signal import resample_poly

    policy = make_policy(parts)
    g = np.gcd(rate, 16000)
    audio = resample_poly(speech, rate // g, 16000 // g) * 0.9
    # The second channel is the first at half the level: the mono mix is their mean.
    frames = np.stack([audio, 0.5 * audio][:channels], axis=1)
    sent = (np.round(frames * 32767) / 32768 if int16
            else frames.astype(np.float32).astype(np.float64))
    whole = Resampler(rate)
    mono = sent.mean(axis=1)
    at_16k = np.concatenate([whole.push(mono), whole.flush()])
    sizes = np.random.default_rng(rate).integers(1, int(rate * 0.05), 10000)
    stream(policy, frames, rate, sizes, channels, int16)
    policy.end_segment()
    times, poses = offline_poses(policy, at_16k)
    assert len(policy.times) == len(times) == len(speech) // 160
    np.testing.assert_allclose(policy.times - T0, times, atol=1e-9)
    assert_same_poses(policy.poses, poses)
    moving = poses.std(axis=0)
    assert moving[list(policy.names).index('jaw_open')] > 0.01, 'speech moves the jaw'


def test_commands_lead_the_audio_by_the_actuator_lag(parts, speech):
    lag = 0.04
    policy = make_policy(parts, actuator_lag=lag)
    # Look-ahead mode: the whole clip arrives a second before it plays.
    stream(policy, speech, 16000, [320] * 10000, now=T0 - 1.0)
    for now in (T0 + 0.3, T0 + 0.777, T0 + 1.2):
        command = policy.command(now)
        assert command.state == 'speaking'
        assert command.pose_time == pytest.approx(now + lag)
        np.testing.assert_allclose(command.positions, policy.pose_at(now + lag))
    # On frame times the pose is exactly that frame's pose.
    frame_time, frame_pose = policy.times[-50], policy.poses[-50].copy()
    command = policy.command(frame_time - lag)
    np.testing.assert_allclose(command.positions, frame_pose, atol=1e-9)


def test_servo_feed_forward_adds_the_time_constant_times_the_pose_rate(parts, speech):

    tau, lag = 0.03, 0.04
    plain, fed = make_policy(parts, actuator_lag=lag), make_policy(
        parts, actuator_lag=lag, servo_time_constant=tau)
    for policy in (plain, fed):
        stream(policy, speech, 16000, [320] * 10000, now=T0 - 1.0)
    lower, upper = parts[1].lower, parts[1].upper
    differed = 0
    for now in np.arange(T0 + 0.2, T0 + 1.5, 0.013):
        target = now + lag
        rate = (plain.pose_at(target + FRAME_PERIOD) - plain.pose_at(target - FRAME_PERIOD)) \
            / (2 * FRAME_PERIOD)
        expected = np.clip(plain.pose_at(target) + tau * rate, lower, upper)
        command = fed.command(now)
        np.testing.assert_allclose(command.positions, expected, atol=1e-9)
        np.testing.assert_allclose(plain.command(now).positions, plain.pose_at(target))
        assert np.all(command.positions >= lower - 1e-12) and np.all(
            command.positions <= upper + 1e-12)
        differed += not np.allclose(command.positions, plain.pose_at(target), atol=1e-4)
    assert differed > 50, 'speech moves the lips, so feed-forward changes the commands'


def test_silence_gives_the_neutral_pose(parts, speech):
    policy = make_policy(parts)
    silence = np.zeros(16000)
    quiet_noise = np.random.default_rng(0).normal(scale=1e-4, size=16000)  # -80 dBFS
    stream(policy, np.concatenate([silence, quiet_noise, speech]), 16000, [400] * 10000)
    head = policy.times < T0 + 2.0
    np.testing.assert_allclose(policy.poses[head], np.broadcast_to(
        policy.neutral, policy.poses[head].shape), atol=1e-9)
    assert np.abs(policy.poses[~head] - policy.neutral).max() > 0.02


def test_a_stalled_stream_eases_to_neutral_then_goes_quiet(parts, speech):
    policy = make_policy(parts, stall_timeout=0.2, ease_time=0.3)
    assert policy.command(T0) is None, 'no audio yet: nothing to command'
    stream(policy, speech[:16000], 16000, [320] * 50)  # 1 s of speech, then nothing
    states, distance, now = [], [], T0 + 0.5
    while now < T0 + 3.0:
        command = policy.command(now)
        if command is None:
            break
        states.append(command.state)
        distance.append(np.abs(command.positions - policy.neutral).max())
        now += 0.01
    assert states[0] == 'speaking' and 'easing' in states
    easing = [d for d, s in zip(distance, states) if s == 'easing']
    assert np.all(np.diff(easing) <= 1e-12), 'easing only moves towards neutral'
    assert easing[-1] == pytest.approx(0.0, abs=1e-12)
    assert now < T0 + 1.0 + 0.2 + 0.3 + 0.3, 'idle soon after the ease'
    assert policy.command(now + 1.0) is None


def test_real_time_audio_holds_the_newest_pose(parts, speech):
    """Without look-ahead the frame for now + lag is not there yet: the newest is used."""
    policy = make_policy(parts)
    stream(policy, speech[:8000], 16000, [320] * 25)  # each chunk arrives as it plays
    command = policy.command(T0 + 0.5)
    assert command.state == 'late'
    np.testing.assert_allclose(command.positions, policy.poses[-1])


def test_every_kind_of_bad_chunk_is_survived(parts, speech):
    policy = make_policy(parts)
    good = speech[:3200].astype(np.float32)
    bad = {
        'NaN': Chunk(16000, 1, np.where(np.arange(3200) == 7, np.nan, good)),
        'inf': Chunk(16000, 1, np.full(10, np.inf, np.float32)),
        'empty': Chunk(16000, 1, np.zeros(0, np.float32)),
        'absurd rate': Chunk(3, 1, good),
        'huge rate': Chunk(10_000_000, 1, good),
        'zero channels': Chunk(16000, 0, good),
        'odd stereo': Chunk(16000, 2, good[:101]),
        'huge': Chunk(16000, 1, np.zeros(16000 * 60, np.float32)),
        'unknown encoding': Chunk(16000, 1, good, encoding=7),
        'both arrays': Chunk(16000, 1, good, samples_int16=np.ones(4, np.int16)),
    }
    for name, chunk in bad.items():
        with pytest.raises(ChunkError):
            policy.push(chunk, T0, T0)
        assert len(policy.times) == 0 and policy.segment is None, name
    assert policy.counts['rejected'] == len(bad)

    # Lost chunks: the stamp gap is filled with silence, later audio keeps its time.
    notes = policy.push(Chunk(16000, 1, good[:1600], sequence=0), T0, T0)
    notes += policy.push(Chunk(16000, 1, good[1600:], sequence=5), T0 + 0.3, T0 + 0.3)
    assert any('missing' in n for n in notes) and any('sequence' in n for n in notes)
    assert policy.counts['gaps_filled'] == 1
    # A jump back in time, a rate change and a nonsense stamp start new streams.
    policy.push(Chunk(16000, 1, good, sequence=6), T0 - 5.0, T0)
    policy.push(Chunk(48000, 1, np.zeros(4800, np.float32), sequence=7), T0 - 4.8, T0)
    notes = policy.push(Chunk(16000, 1, good, sequence=8), 12.0, T0)
    assert any('arrival time' in n for n in notes)
    assert policy.counts['segments'] == 4
    policy.push(Chunk(16000, 1, good, sequence=9), T0 + 0.2, T0)
    assert np.isfinite(policy.poses).all()
    lower, upper = parts[1].lower, parts[1].upper
    assert np.all(policy.poses >= lower - 1e-9) and np.all(policy.poses <= upper + 1e-9)
    assert policy.command(T0).positions.shape == (len(policy.names),)


def test_bad_configuration_is_refused(parts):
    with pytest.raises(ValueError, match='actuator_lag'):
        make_policy(parts, actuator_lag=-0.1)
    with pytest.raises(ValueError, match='stall_timeout'):
        make_policy(parts, stall_timeout=float('nan'))


def test_hop_compute_is_measured(parts, speech):
    policy = make_policy(parts)
    stream(policy, speech[:16000], 16000, [160] * 100)
    assert 0 < policy.hop_compute_ms() < 1000 * FRAME_PERIOD * 50


def test_pose_smoothing_streams_like_the_whole_clip_and_takes_out_jitter():
    from lip_policy.pose_filters import PoseSmoother, smooth_poses

    rng = np.random.default_rng(4)
    t = np.arange(300) * FRAME_PERIOD
    slow = np.stack([np.sin(2 * np.pi * 3 * t), np.cos(2 * np.pi * 2 * t)], axis=1)
    poses = slow + rng.normal(scale=0.2, size=slow.shape)  # per-frame jitter
    for half_width in (0, 1, 2, 4):
        smoother = PoseSmoother(half_width)
        pieces = [smoother.push(t[a:b], poses[a:b]) for a, b in
                  zip([0, 1, 2, 40, 41, 160], [1, 2, 40, 41, 160, 300])]
        pieces.append(smoother.finish())
        times = np.concatenate([p[0] for p in pieces])
        streamed = np.concatenate([p[1] for p in pieces if len(p[0])])
        whole = smooth_poses(poses, half_width)
        np.testing.assert_allclose(times, t)
        np.testing.assert_allclose(streamed, whole, atol=1e-12)
        if half_width == 0:
            np.testing.assert_array_equal(whole, poses)
        else:
            # Jitter shrinks, the slow motion stays, a constant pose is left alone.
            assert np.abs(np.diff(whole, axis=0)).mean() < 0.6 * np.abs(np.diff(poses, axis=0)
                                                                       ).mean()
            assert np.abs(whole - slow)[10:-10].mean() < 0.7 * np.abs(poses - slow).mean()
            np.testing.assert_allclose(smooth_poses(np.ones((7, 3)), half_width), 1.0)


def test_the_policy_smooths_its_poses(parts, speech):
    plain, smooth = make_policy(parts, pose_smoothing=0), make_policy(parts, pose_smoothing=2)
    for policy in (plain, smooth):
        stream(policy, speech, 16000, [480] * 10000, now=T0 - 1.0)
        policy.end_segment()
    from lip_policy.pose_filters import smooth_poses

    np.testing.assert_allclose(smooth.times, plain.times)
    np.testing.assert_allclose(smooth.poses, smooth_poses(plain.poses, 2), atol=2e-4)
    with pytest.raises(ValueError, match='pose_smoothing'):
        make_policy(parts, pose_smoothing=1.5)


def test_pacing_keeps_to_the_speed_limit_and_centres_a_fast_move():
    from lip_policy.pose_filters import pace_poses, rate_limited

    step = np.repeat([[0.0, 0.0], [1.0, -0.5]], [50, 50], axis=0)  # both move at frame 50
    max_step = np.array([0.1, 0.1])
    paced = pace_poses(step, max_step, start=step[0])
    assert np.abs(np.diff(paced, axis=0)).max() <= 0.1 + 1e-12
    # The move is centred on its time (between frames 49 and 50): half-way there at 49.5 ...
    np.testing.assert_allclose(paced[49] + paced[50], step[49] + step[50], atol=1e-12)
    # ... where the driver's slew limit alone (forward rate limiting) is still near the start.
    trailing = rate_limited(step, max_step, step[0])
    assert abs(trailing[49, 0] + trailing[50, 0] - 1.0) > 0.8
    np.testing.assert_allclose(paced[[0, -1]], step[[0, -1]])  # it starts and ends in place
    # Poses that already keep to the limit are left alone.
    slow = np.stack([0.5 * np.sin(np.arange(200) * 0.1)] * 2, axis=1)  # at most 0.05 a frame
    np.testing.assert_allclose(pace_poses(slow, max_step, slow[0]), slow, atol=1e-12)


def test_the_policy_commands_paced_poses_streamed_like_the_whole_clip(parts, speech):
    from scipy.signal import resample_poly

    plain = make_policy(parts)
    stream(plain, speech, 16000, [480] * 10000, now=T0 - 1.0)
    plain.end_segment()
    fastest = np.abs(np.diff(plain.poses, axis=0)).max(axis=0) / FRAME_PERIOD  # [rad/s]
    limits = np.maximum(0.4 * fastest, 0.05)  # speech here moves faster than these
    predictor, to_actuators = parts
    policy = LipPolicy(predictor, to_actuators, to_actuators.names, to_actuators.neutral,
                       PolicyConfig(actuator_lag=0.04, history=60.0), max_velocity=limits)
    rate = 22050
    audio = resample_poly(speech, 441, 320).astype(np.float32).astype(np.float64)
    sizes = np.random.default_rng(5).integers(1, 1500, 10000)
    stream(policy, audio, rate, sizes, now=T0 - 2.0)  # look-ahead: the clip comes early
    times, paced = policy.paced_schedule()
    # Commands on frame times are the paced schedule, and keep to the limits.
    commands = np.array([policy.command(t - 0.04).positions for t in times[:-60]])
    np.testing.assert_allclose(commands, paced[:-60], atol=1e-9)
    assert np.all(np.abs(np.diff(commands, axis=0)) <= limits * FRAME_PERIOD + 1e-9)
    assert np.abs(commands - policy.poses[:-60]).max() > 0.01, 'the limits bind somewhere'
    # The whole streamed schedule equals the whole-clip reference.
    policy.end_segment()
    whole = Resampler(rate)
    at_16k = np.concatenate([whole.push(audio), whole.flush()])
    assert_same_poses(policy.paced_schedule()[1], offline_poses(policy, at_16k)[1])


def test_bad_speed_limits_are_refused(parts):
    predictor, to_actuators = parts
    count = len(to_actuators.names)
    for limits in (np.ones(count + 1), np.zeros(count), np.full(count, np.nan)):
        with pytest.raises(ValueError, match='max_velocity'):
            LipPolicy(predictor, to_actuators, to_actuators.names, to_actuators.neutral,
                      max_velocity=limits)
    with pytest.raises(ValueError, match='pacing'):
        make_policy(parts, pacing=1.5)


def test_feed_forward_leads_the_paced_poses(parts, speech):
    """With speed limits and feed-forward, the command is the paced pose plus the time
    constant times the paced pose's rate."""
    predictor, to_actuators = parts
    tau, lag = 0.03, 0.04
    limits = np.full(len(to_actuators.names), 2.0)  # [rad/s]
    policy = LipPolicy(predictor, to_actuators, to_actuators.names, to_actuators.neutral,
                       PolicyConfig(actuator_lag=lag, servo_time_constant=tau, history=60.0),
                       max_velocity=limits)
    stream(policy, speech, 16000, [320] * 10000, now=T0 - 1.0)
    times, paced = policy.paced_schedule()
    paced = paced.copy()

    def paced_at(t):
        return np.stack([np.interp(t, times, paced[:, j]) for j in range(paced.shape[1])])

    for now in np.arange(T0 + 0.2, T0 + 1.5, 0.013):
        target = now + lag
        rate = (paced_at(target + FRAME_PERIOD) - paced_at(target - FRAME_PERIOD)) \
            / (2 * FRAME_PERIOD)
        expected = np.clip(paced_at(target) + tau * rate, to_actuators.lower,
                           to_actuators.upper)
        np.testing.assert_allclose(policy.command(now).positions, expected, atol=1e-9)
