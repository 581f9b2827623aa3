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
    with pytest.raises(SystemExit):
        cli.train_main([str(tiny_corpus), '--out', str(tmp_path / 'x.pt'),
                        '--seal-weight', 'nan'])
    assert '--seal-weight and --open-weight must be >= 0' in capsys.readouterr().err


def test_seal_penalty_is_the_inner_lip_gap_left_open_where_the_teacher_seals(tiny_corpus):
    import numpy as np
    import torch

    from lip_policy import corpus, metrics
    from lip_policy.lip_space import LipBasis

    lips = np.concatenate([c.lips[c.valid] for c in corpus.load_corpus(tiny_corpus)])
    basis = LipBasis.fit(lips, 12)
    coefficients = basis.encode(lips)
    seal = train.SealPenalty(basis, coefficients, seal_weight=2.0)
    # the gap the penalty computes in lip space is the metrics' inner-lip gap of the lips
    decoded = basis.decode(coefficients)
    assert np.allclose(seal.gap(torch.as_tensor(coefficients, dtype=torch.float32)).numpy(),
                       metrics.opening(decoded), atol=1e-5)
    gaps = metrics.opening(lips)
    sealed, open_ = int(np.argmin(gaps)), int(np.argmax(gaps))
    assert gaps[sealed] < seal.threshold < gaps[open_]  # the teacher seals /p b m/
    targets = torch.as_tensor(coefficients[[sealed, open_]][None], dtype=torch.float32)
    assert torch.count_nonzero(seal(targets, targets)) == 0
    # the sealed frame predicted open (as the open frame) costs; the open frame predicted
    # sealed costs nothing here (the landmark error covers it)
    swapped = targets.flip(1)
    penalty = seal(swapped, targets)[0]
    assert penalty[0] > 1.0 and penalty[1] == 0
    gap_std = np.std(seal.offset + coefficients @ seal.direction.numpy())
    assert float(penalty[0]) == pytest.approx(
        2.0 * ((gaps[open_] - gaps[sealed]) / gap_std) ** 2, rel=1e-3)
    # the open side: the open frame predicted sealed costs open_weight x its shortfall
    both = train.SealPenalty(basis, coefficients, seal_weight=2.0, open_weight=3.0)
    assert gaps[open_] >= train.OPEN_FACTOR * both.threshold
    penalty = both(swapped, targets)[0]
    assert float(penalty[0]) == pytest.approx(
        2.0 * ((gaps[open_] - gaps[sealed]) / gap_std) ** 2, rel=1e-3)
    assert float(penalty[1]) == pytest.approx(
        3.0 * ((train.OPEN_FACTOR * both.threshold - gaps[sealed]) / gap_std) ** 2, rel=1e-3)
    assert torch.count_nonzero(both(targets, targets)) == 0


def test_training_with_the_seal_penalty_records_it_and_learns(tiny_corpus, tmp_path):
    summary = train.train([tiny_corpus], tmp_path / 'seal.pt', LipModelConfig(channels=16),
                          train.TrainConfig(epochs=4, patience=4, batch_clips=4, seed=0,
                                            seal_weight=1.0), progress=False)
    assert summary['train_config']['seal_weight'] == 1.0
    assert summary['history'][-1]['train'] < summary['history'][0]['train']
