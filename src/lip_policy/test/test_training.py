"""A tiny training run beats both baselines on its own clips; lip-eval reports and plots."""

import json

import pytest

from lip_policy import cli, train
from lip_policy.model import LipModelConfig


@pytest.fixture(scope='module')
def tiny_model(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp('model') / 'tiny.pt'
    summary = train.train([tiny_corpus], out, LipModelConfig(channels=48),
                          train.TrainConfig(epochs=70, patience=70, batch_clips=4,
                                            learning_rate=3e-3, seed=0),
                          progress=False)
    return out, summary


def test_training_writes_checkpoint_summary_and_curve(tiny_model):
    out, summary = tiny_model
    assert out.is_file() and out.with_suffix('.curve.png').stat().st_size > 1000
    saved = json.loads(out.with_suffix('.json').read_text())
    assert saved['validation_clips'] >= 1 and saved['train_clips'] >= 1
    # The validation split holds out whole voices.
    assert saved['validation_speakers'] and saved['train_speakers']
    assert set(saved['validation_speakers']).isdisjoint(saved['train_speakers'])
    history = summary['history']
    assert history[-1]['train'] < 0.5 * history[0]['train']


def test_tiny_model_beats_both_baselines_on_its_training_clips(tiny_model, tiny_corpus,
                                                                tmp_path, capsys):
    out, _ = tiny_model
    report_path = tmp_path / 'eval.json'
    assert cli.eval_main(['--model', str(out), '--corpus', str(tiny_corpus),
                          '--json', str(report_path)]) == 0
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    headline = json.loads(last_line)
    assert set(headline) == set(
        ('lip_error', 'lip_error_amplitude', 'lip_error_viseme', 'mouth_open_pcc',
         'bilabial_closure_recall', 'pucker_recall', 'sync_offset_ms', 'realtime_factor'))
    assert headline['lip_error'] < headline['lip_error_amplitude']
    assert headline['lip_error'] < headline['lip_error_viseme']
    report = json.loads(report_path.read_text())
    assert {'language:en', 'language:de', 'kind:sung', 'kind:speech'} <= set(report['details'])
    assert (tmp_path / 'lip_eval_mouth_opening.png').stat().st_size > 1000


def test_bad_inputs_to_the_clis_fail_clearly(tmp_path, tiny_corpus, capsys):
    assert cli.eval_main(['--model', str(tmp_path / 'none.pt'), '--corpus',
                          str(tiny_corpus)]) == 2
    assert 'does not exist' in capsys.readouterr().err
    assert cli.train_main([str(tmp_path / 'no_corpus'), '--out', str(tmp_path / 'x.pt')]) == 2
    assert 'lip-corpus synth' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.train_main([str(tiny_corpus), '--out', str(tmp_path / 'x.pt'),
                        '--lookahead-ms', '45'])
    with pytest.raises(SystemExit):
        cli.train_main([str(tiny_corpus), '--out', str(tmp_path / 'x.pt'),
                        '--augment-variants', '-1'])
    assert '--augment-variants must be >= 0' in capsys.readouterr().err
