"""What the policy core does when the audio comes in bursts, twice, out of order or not at all,
and when its worker is behind (lip_command + audio_intake), with small real models, no ROS.
"""

import numpy as np
import pytest

from face_common.frames import FRAME_PERIOD
from lip_policy import corpus
from lip_policy.audio_intake import ChunkInbox, Reorder
from lip_policy.lip_command import Chunk, LipPolicy, PolicyConfig
from lip_policy.policy_health import ERROR, OK, WARN, PolicyHealth
from lip_policy.retarget import LipsToActuators

T0 = 1000.0  # [s]
CHUNK = 320  # samples at 16 kHz: 20 ms




@pytest.fixture(scope='module')
def speech(models):
    clip = max(corpus.load_corpus(models.corpus), key=lambda c: len(c.audio))
    return clip.audio[:16000].astype(np.float32)  # 1 s


def make_policy(parts, **config):
    predictor, to_actuators = parts
    return LipPolicy(predictor, to_actuators, to_actuators.names, to_actuators.neutral,
                     PolicyConfig(pacing=0.0, **config))


def arrivals(policy, audio, skip=()):
    """Accepted 20 ms chunks of audio stamped from T0 (the ones in skip are lost)."""
    out = []
    for k, first in enumerate(range(0, len(audio), CHUNK)):
        if k not in skip:
            stamp = T0 + first / 16000
            out.append(policy.accept(Chunk(16000, 1, audio[first:first + CHUNK], k),
                                     stamp, stamp))
    return out


def finished(policy):
    policy.end_segment()
    return policy.times.copy(), policy.poses.copy()


def test_a_burst_in_one_go_gives_the_poses_of_chunk_by_chunk(parts, speech):
    one_by_one = make_policy(parts)
    for arrival in arrivals(one_by_one, speech):
        one_by_one.push_many([arrival])
    burst = make_policy(parts)
    burst.push_many(arrivals(burst, speech))
    times, poses = finished(burst)
    ref_times, ref_poses = finished(one_by_one)
    np.testing.assert_allclose(times, ref_times)
    # The same model and refinement, in other batch shapes: float noise and refinement ties.
    assert np.abs(poses - ref_poses).max() < 2e-3
    assert burst.counts['chunks'] == one_by_one.counts['chunks'] == -(-len(speech) // CHUNK)


def test_duplicates_and_late_chunks_are_dropped_without_restarting_the_stream(parts, speech):
    clean = make_policy(parts)
    clean.push_many(arrivals(clean, speech))
    policy = make_policy(parts)
    chunks = arrivals(policy, speech)
    policy.push_many(chunks[:30])
    policy.push_many([chunks[12], chunks[29]])  # sent twice
    policy.push_many(chunks[30:])
    assert policy.counts['duplicates'] == 2 and policy.counts['segments'] == 1
    # the same poses, up to the float noise of other batch shapes (and refinement ties)
    assert np.abs(finished(policy)[1] - finished(clean)[1]).max() < 2e-3

    # Chunk 20 lost, filled when 21 came; when 20 turns up after all it is late, not a restart.
    gappy = make_policy(parts)
    chunks = arrivals(gappy, speech)
    gappy.push_many(chunks[:20] + chunks[21:40])
    gappy.push_many([chunks[20]])
    assert gappy.counts['late'] == 1 and gappy.counts['segments'] == 1
    assert gappy.counts['lost_chunks'] == 1 and gappy.counts['gaps_filled'] == 1


def test_lost_audio_keeps_time_and_the_lips_hold_instead_of_shutting(parts, speech):
    policy = make_policy(parts, pose_smoothing=0)
    lost = set(range(20, 26))  # 120 ms in the middle of speech
    notes = policy.push_many(arrivals(policy, speech, skip=lost))
    assert any('hold their pose' in n for n in notes)
    times, poses = finished(policy)
    assert policy.counts['lost_chunks'] == 6
    assert abs(policy.counts['lost_seconds'] - 0.12) < 1e-6
    np.testing.assert_allclose(np.diff(times), FRAME_PERIOD)  # later audio kept its time
    lookahead = parts[0].lookahead_frames * FRAME_PERIOD
    hold_from, gap_end = T0 + 0.4 - lookahead, T0 + 0.52
    held = (times >= hold_from) & (times < gap_end)
    before = np.flatnonzero(times < hold_from)[-1]
    # Every frame whose audio or look-ahead was lost shows the pose before it.
    np.testing.assert_allclose(poses[held], np.broadcast_to(poses[before], poses[held].shape))
    # Without the hold, the model reads the silence and the mouth goes elsewhere.
    silent = make_policy(parts, pose_smoothing=0)
    audio = speech.copy()
    audio[20 * CHUNK:26 * CHUNK] = 0
    silent.push_many(arrivals(silent, audio))
    moved = np.abs(finished(silent)[1][held] - poses[before]).max()
    assert moved > 1e-3, 'the test audio must make silence look different from the hold'


def test_a_policy_that_hurries_skips_the_refinement_and_says_so(parts, speech, models):
    hurried = make_policy(parts)
    hurried.push_many(arrivals(hurried, speech), hurry=True)
    assert hurried.counts['hurried_frames'] > 0 and len(hurried.hurried_seconds) > 0
    # ... exactly as a policy whose inverse is never refined, unlike the default one.
    predictor, _ = parts
    unrefined = LipsToActuators.load(models.retarget, models.self_model, refine_steps=0)
    plain = LipPolicy(predictor, unrefined, unrefined.names, unrefined.neutral,
                      PolicyConfig(pacing=0.0))
    plain.push_many(arrivals(plain, speech))
    refined = make_policy(parts)
    refined.push_many(arrivals(refined, speech))
    # The poses scheduled so far (the stream's end, pushed later and not hurried, is refined).
    poses = hurried.poses.copy()
    assert len(poses) > 50
    assert np.abs(poses - plain.poses).max() < 1e-6
    assert np.abs(poses - refined.poses).max() > 1e-3
    assert refined.counts['hurried_frames'] == 0


def test_reorder_holds_a_gap_while_the_missing_chunk_can_still_come(parts, speech):
    policy = make_policy(parts)
    chunks = arrivals(policy, speech)
    reorder = Reorder(lead=0.06, tolerance=0.005, max_gap=0.5)
    for arrival in (chunks[3], chunks[1], chunks[0], chunks[4]):  # 2 is missing
        reorder.add(arrival, arrived=T0 - 0.3)
    ready, oldest = reorder.take(None, now=T0 - 0.3)  # 0.3 s ahead of playback
    assert [a.sequence for a in ready] == [0, 1] and oldest == T0 - 0.3
    assert len(reorder) == 2 and abs(reorder.seconds() - 0.04) < 1e-9
    reorder.add(chunks[2], arrived=T0 - 0.25)
    ready, _ = reorder.take(T0 + 0.04, now=T0 - 0.25)
    assert [a.sequence for a in ready] == [2, 3, 4]
    # A chunk after a gap is given up on once its playback is less than `lead` away.
    reorder.add(chunks[8], arrived=T0)
    assert reorder.take(T0 + 0.1, now=T0)[0] == []
    assert [a.sequence for a in reorder.take(T0 + 0.1, now=T0 + 0.11)[0]] == [8]
    # A new stream far after the last one is not held for anything.
    later = policy.accept(Chunk(16000, 1, speech[:CHUNK], 99), T0 + 5.0, T0 + 4.8)
    reorder.add(later, arrived=T0 + 4.8)
    assert reorder.take(T0 + 0.2, now=T0 + 4.8)[0] == [later]


def test_inbox_hands_over_in_arrival_order_and_wakes_the_worker():
    import threading
    import time

    inbox = ChunkInbox()
    assert inbox.take(0.0) == []
    threading.Timer(0.05, lambda: inbox.put('a', 1.0)).start()
    started = time.monotonic()
    assert inbox.take(5.0) == [('a', 1.0)]
    assert time.monotonic() - started < 4.0, 'take() returns as soon as a chunk is put'
    inbox.put('b', 2.0)
    inbox.put('c', 3.0)
    assert len(inbox) == 2 and inbox.take(1.0) == [('b', 2.0), ('c', 3.0)]


def test_health_levels_follow_what_happened_since_the_last_report(parts, speech):
    policy = make_policy(parts)
    health = PolicyHealth(hop_budget=10.0)
    chunks = arrivals(policy, speech, skip={10})
    policy.push_many(chunks[:5])
    report = health.report(policy.counts, policy.compute_seconds, policy.hurried_seconds, 0, 0)
    assert report.level == OK and report.values['chunks_received'] == 5
    policy.push_many(chunks[5:20])
    report = health.report(policy.counts, policy.compute_seconds, policy.hurried_seconds, 0, 0)
    assert report.level == ERROR and 'lost' in report.message
    assert report.values['chunks_lost'] == 1
    policy.push_many(chunks[20:30])
    report = health.report(policy.counts, policy.compute_seconds, policy.hurried_seconds, 3,
                           0.2)
    assert report.level == WARN and '200 ms of audio waiting' in report.message
    assert report.values['chunks_lost'] == 1  # totals stay
    strict = PolicyHealth(hop_budget=1e-9)
    report = strict.report(policy.counts, policy.compute_seconds, policy.hurried_seconds, 0, 0)
    assert report.level == ERROR and 'budget' in report.message  # the loss is news to it
