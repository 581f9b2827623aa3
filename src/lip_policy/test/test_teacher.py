"""The teacher's documented properties: closure, pucker, tuck, anticipation, continuity."""

import numpy as np
import pytest

from lip_policy import metrics, teacher, visemes


def _clip(phonemes, duration=1.2):
    frames = int(duration * teacher.FRAME_RATE)
    lips, params = teacher.teach(phonemes, duration, frames)
    return lips, params, teacher.segments_from_phonemes(phonemes, duration)


def _frames_of(segment):
    lo = int(np.ceil((segment.start - teacher.VISUAL_LEAD) * teacher.FRAME_RATE))
    hi = int(np.floor((segment.end - teacher.VISUAL_LEAD) * teacher.FRAME_RATE))
    return slice(lo, hi)


def test_viseme_table_reads_espeak_and_arpabet_names():
    assert visemes.visemes_of('ˈuː') == ['U']
    assert visemes.visemes_of('m̩') == ['PP']
    assert visemes.visemes_of('tʃ') == ['CH']
    assert visemes.visemes_of('aɪ') == ['AA', 'I']
    assert visemes.visemes_of('') == ['sil']
    assert visemes.visemes_of('(en)') == ['sil']
    assert visemes.visemes_of(visemes.arpabet_to_ipa('UW1')) == ['U']
    assert visemes.visemes_of(visemes.arpabet_to_ipa('B')) == ['PP']


@pytest.mark.parametrize('bilabial', ['p', 'b', 'm'])
def test_bilabials_close_the_lips_fully(bilabial):
    phonemes = [('', 0.0), ('ˈa', 0.2), (bilabial, 0.4), ('a', 0.5), ('', 0.8)]
    lips, _, segments = _clip(phonemes)
    closure = next(s for s in segments if s.viseme == 'PP')
    gap = metrics.opening(lips)
    assert np.all(np.abs(gap[_frames_of(closure)]) < 1e-9)
    vowel = next(s for s in segments if s.viseme == 'AA')
    assert gap[_frames_of(vowel)].max() > 0.2 * metrics.width(lips[:1])[0]


def test_u_and_w_pucker_and_rounding_is_anticipated():
    phonemes = [('', 0.0), ('ˈi', 0.2), ('t', 0.45), ('ˈuː', 0.55), ('', 0.9)]
    lips, params, segments = _clip(phonemes)
    width = metrics.width(lips)
    rest = width[0]
    u = next(s for s in segments if s.viseme == 'U')
    assert width[_frames_of(u)].max() < 0.8 * rest
    assert lips[_frames_of(u), :, 2].mean() > lips[0, :, 2].mean()  # lips protrude
    # Rounding has begun during the /t/ before the /u/ (anticipatory coarticulation).
    round_index = teacher.PARAMETERS.index('round')
    t_frame = int(0.5 * teacher.FRAME_RATE)
    assert params[t_frame, round_index] > 0.2
    w_lips, _, w_segments = _clip([('', 0.0), ('w', 0.3), ('ˈa', 0.4), ('', 0.8)])
    w = next(s for s in w_segments if s.viseme == 'W')
    assert metrics.width(w_lips)[_frames_of(w)].min() < 0.85 * rest


def test_f_v_tuck_the_lower_lip_and_trajectories_are_continuous():
    lips, params, segments = _clip([('', 0.0), ('ˈa', 0.2), ('f', 0.45), ('a', 0.6),
                                    ('', 0.9)])
    f = next(s for s in segments if s.viseme == 'FF')
    tuck = params[:, teacher.PARAMETERS.index('tuck')]
    assert np.all(tuck[_frames_of(f)] == 1.0)
    assert metrics.opening(lips)[_frames_of(f)].max() < 0.05 * metrics.width(lips[:1])[0]
    # No jumps: every 10 ms step moves each lip point less than 8 % of the mouth width.
    step = np.linalg.norm(np.diff(lips, axis=0), axis=-1).max()
    assert step < 0.08 * metrics.width(lips[:1])[0]


def test_teacher_scores_itself_perfectly_on_events():
    phonemes = [('', 0.0), ('m', 0.15), ('ˈuː', 0.25), ('b', 0.45), ('ə', 0.52), ('w', 0.62),
                ('ˈa', 0.7), ('p', 0.9), ('', 1.0)]
    lips, _, _ = _clip(phonemes, 1.3)
    assert all(metrics.event_hits(lips, phonemes, 1.3, lips, 'closure'))
    assert all(metrics.event_hits(lips, phonemes, 1.3, lips, 'pucker'))
    assert len(metrics.event_hits(lips, phonemes, 1.3, lips, 'closure')) == 3
    # A mouth that never moves scores no event.
    still = np.repeat(teacher.LipGeometry().rest[None], len(lips), axis=0)
    assert not any(metrics.event_hits(still, phonemes, 1.3, lips, 'pucker'))
    # The teacher never shows an open vowel closed; a mouth held shut shows every one closed.
    figures = metrics.figures(lips, lips, phonemes, 1.3)
    assert figures['open_vowel_events'] == 2 and figures['open_vowels_falsely_closed'] == 0.0
    shut = np.repeat(lips[metrics.closed(lips, lips)][:1], len(lips), axis=0)
    assert metrics.false_closures(shut, phonemes, 1.3, lips) == [True, True]
    assert metrics.event_hits(shut, phonemes, 1.3, lips, 'closure') == [True] * 3
