"""lip-e2e-eval --source speech without DDS: the graph it starts and how it judges the Say
goal's figures (the run over DDS is make demo's, in face_bringup/test/test_demo.py)."""

from types import SimpleNamespace

import pytest

from face_common.graphs import graph
from face_common.time import seconds_to_stamp, stamp_seconds
from lip_policy.e2e_eval import Evaluation, parse_args, run_problems, say_problems

GOOD = {'status': 'succeeded', 'success': True, 'interrupted': False,
        'message': 'played 1 piece(s), 1.17 s', 'seconds_played': 1.174,
        'feedback_messages': 12, 'published_s': 1.174,
        'published_vs_clip_max_difference': 0.0, 'timeline_gap_max_ms': 0.0, 'underruns': 0}


def test_the_e2e_graph_gets_the_speech_node_last_and_is_unchanged_without_it():
    models = {'lip_model': 'a.pt'}
    plain = graph('e2e', through='camera', models=models)
    spoken = graph('e2e', through='camera', models=models, speech={'output': 'null'})
    assert spoken[:-1] == plain
    assert spoken[-1].executable == 'speech_node'
    assert spoken[-1].params_file == 'face_speech.yaml'
    assert ('output', 'null') in spoken[-1].parameters
    assert [s.executable for s in plain] == ['face_motor_driver_node', 'lip_policy_node',
                                             'face_sim_node', 'observer_node']


def test_source_defaults_to_the_player_and_speech_is_chosen_by_name():
    assert parse_args(['--text', 'hi']).source == 'player'
    args = parse_args(['--text', 'hi', '--source', 'speech', '--speech-buffer', '0.25'])
    assert (args.source, args.speech_buffer) == ('speech', 0.25)
    with pytest.raises(SystemExit):
        parse_args(['--text', 'hi', '--source', 'speech', '--speech-buffer', '5'])


def test_a_played_clip_with_feedback_on_a_gapless_timeline_is_trusted():
    assert say_problems(GOOD, 1.17) == []
    assert say_problems(None, 1.17) == []  # --source player


@pytest.mark.parametrize('change, says', [
    ({'status': 'aborted', 'success': False, 'message': 'boom'}, 'did not play the clip'),
    ({'status': 'canceled', 'success': False, 'interrupted': True}, 'did not play the clip'),
    ({'seconds_played': 0.6, 'published_s': 0.6}, 'were played of the'),
    ({'feedback_messages': 0}, 'no Say feedback'),
    ({'published_vs_clip_max_difference': 0.01}, 'not the clip'),
    ({'published_s': 1.0}, 'not the clip'),
    ({'timeline_gap_max_ms': 12.0}, 'gaps'),
    ({'underruns': 2}, 'underruns'),
])
def test_what_makes_a_say_run_untrustworthy_is_named(change, says):
    problems = say_problems(GOOD | change, 1.17)
    assert len(problems) == 1 and says in problems[0], problems


def test_run_problems_include_the_say_goal():
    result = {'policy': {'chunks_received': 59, 'chunks_lost': 0},
              'live_commands_vs_offline_jaw_r': 0.97, 'duration_s': 1.17,
              'say': GOOD | {'feedback_messages': 0}}
    assert run_problems(result) == ['no Say feedback arrived while the goal played']
    del result['say']
    assert run_problems(result) == []


def _stamped(seconds):
    return SimpleNamespace(header=SimpleNamespace(stamp=seconds_to_stamp(seconds)))


def test_the_longest_pause_spans_the_clip_and_its_edges():
    clip = SimpleNamespace(duration=1.0)   # a clip from 10 s to 11 s
    steady = [_stamped(9.99 + 0.01 * k) for k in range(103)]
    assert Evaluation.longest_pause_ms(clip, steady, 10.0) == pytest.approx(10.0, abs=0.1)
    stalled = [m for m in steady if not 10.405 < stamp_seconds(m.header.stamp) < 10.555]
    assert Evaluation.longest_pause_ms(clip, stalled, 10.0) == pytest.approx(160.0, abs=0.1)
    late_start = [m for m in steady if stamp_seconds(m.header.stamp) > 10.195]
    assert Evaluation.longest_pause_ms(clip, late_start, 10.0) == pytest.approx(200.0, abs=0.1)
    assert Evaluation.longest_pause_ms(clip, [], 10.0) == 1000.0


def test_a_jaw_that_strays_from_the_offline_policy_names_the_longest_command_pause():
    result = {'policy': {'chunks_received': 184, 'chunks_lost': 0, 'message': 'ok'},
              'live_commands_vs_offline_jaw_r': 0.89, 'command_gap_max_ms': 160.0,
              'duration_s': 1.0}
    [problem] = run_problems(result)
    assert 'r = 0.89' in problem and 'longest pause between lip commands was 160.0 ms' in problem
