"""bench/closure_stages.py: its event scoring, its driver + servo simulation and its variant
renderers behave as the bench says (fast: no models, no espeak, one small renderer)."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / 'bench'


@pytest.fixture(scope='module')
def bench():
    sys.path.insert(0, str(BENCH))  # closure_stages imports bench/machine.py
    try:
        spec = importlib.util.spec_from_file_location('closure_stages',
                                                      BENCH / 'closure_stages.py')
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCH))


# "ba bu ba": two bilabial closures around open vowels, one pucker
PHONEMES = [('', 0.0), ('b', 0.10), ('ɑ', 0.18), ('b', 0.36), ('u', 0.44), ('b', 0.62),
            ('ɑ', 0.70), ('', 0.90)]
DURATION = 1.1


def _teacher():
    from lip_policy import teacher

    frames = int(DURATION * teacher.FRAME_RATE)
    return teacher.teach(PHONEMES, DURATION, frames)[0]


def test_teacher_scores_itself_perfectly(bench):
    truth = _teacher()
    events = bench.stage_events(truth, truth, PHONEMES, DURATION)
    assert events['closure'] == [True, True, True]
    assert events['pucker'] == [True]
    assert events['false_closed'] == [False, False]
    assert max(events['closure_min_gap']) < 0.05
    assert all(hold >= 20 for hold in events['closure_hold_ms'])


def test_a_mouth_that_never_moves_is_scored_by_its_gap(bench):
    from lip_policy import metrics

    truth = _teacher()
    gap = metrics.opening(truth)
    shut = np.repeat(truth[[int(np.argmin(gap))]], len(truth), axis=0)
    wide = np.repeat(truth[[int(np.argmax(gap))]], len(truth), axis=0)
    closed = bench.stage_events(shut, truth, PHONEMES, DURATION)
    assert all(closed['closure']) and all(closed['false_closed'])
    opened = bench.stage_events(wide, truth, PHONEMES, DURATION)
    assert not any(opened['closure']) and not any(opened['false_closed'])
    assert not any(opened['pucker'])
    summary = bench.summarise([closed, opened])
    assert summary['closure_recall'] == 0.5 and summary['closure_events'] == 6
    assert summary['open_vowels_falsely_closed'] == 0.5


def test_driver_slew_and_servo_lag(bench):
    chain = bench.Chain.__new__(bench.Chain)  # the simulation needs only the speed limits
    chain.max_velocity = np.array([4.0, 6.0])
    send = np.arange(-0.1, 1.0, 0.01)
    commands = np.where(send[:, None] < 0.2, 0.0, np.array([[0.4, -0.3]]))
    at = np.arange(0.0, 0.9, 0.001)
    limited = bench.Chain.servos(chain, send, commands, at)
    free = bench.Chain.servos(chain, send, commands, at, slew=False)
    speed = np.abs(np.diff(limited, axis=0)) / 0.001
    assert np.all(speed <= chain.max_velocity * 1.02)
    assert np.allclose(limited[-1], [0.4, -0.3], atol=1e-3)
    # the step takes 0.1 s at 4 rad/s on top of the servo lag; without the slew limit
    # only the servo lag (30 ms time constant) delays it
    half = at[np.argmax(limited[:, 0] > 0.2)] - 0.2
    half_free = at[np.argmax(free[:, 0] > 0.2)] - 0.2
    assert 0.05 < half < 0.1 and half_free < 0.03


def test_old_outline_renderer_draws_the_cavity_line_face_sim_no_longer_draws(bench):
    from face_sim.render import FaceRenderer

    face_sim = FaceRenderer(240, 180)
    outline = bench.variant_renderer('outline', 240, 180, 0)
    bare = bench.variant_renderer('no_cavity', 240, 180, 0)
    opened = {'jaw_open': 0.3}
    drawn_open = np.abs(face_sim.render(opened).astype(int) - bare.render(opened)).sum()
    outline_open = np.abs(outline.render(opened).astype(int) - bare.render(opened)).sum()
    assert drawn_open > 0.98 * outline_open > 0
    pressed = {'jaw_open': -0.05, 'upper_lip_left_raise': -0.3, 'upper_lip_center_raise': -0.3,
               'upper_lip_right_raise': -0.3, 'lower_lip_left_lower': -0.3,
               'lower_lip_right_lower': -0.3}
    cavity = bare.render(pressed).astype(int)
    old = np.abs(outline.render(pressed) - cavity).sum()
    now = np.abs(face_sim.render(pressed) - cavity).sum()
    assert old > 0 and now < 0.2 * old
