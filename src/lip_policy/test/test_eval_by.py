"""lip-eval --by voice|engine|language: model and both baselines per group; --condition."""

import json

import numpy as np
import pytest
import torch

from lip_policy import cli, corpus, evaluate
from lip_policy.features import FeatureConfig
from lip_policy.lip_space import LipBasis
from lip_policy.model import LipModel, LipModelConfig
from lip_policy.predictor import save_checkpoint


def _untrained_model(tiny_corpus, path):
    torch.manual_seed(0)
    model = LipModel(LipModelConfig(channels=16)).eval()
    lips = np.concatenate([c.lips for c in corpus.load_corpus(tiny_corpus)])
    save_checkpoint(path, model, LipBasis.fit(lips, 12), FeatureConfig(), {})
    return path


def test_groups_by_voice_engine_and_language(tiny_corpus, tmp_path, capsys):
    model = _untrained_model(tiny_corpus, tmp_path / 'm.pt')
    entries = corpus.read_manifest(tiny_corpus)
    assert cli.eval_main(['--model', str(model), '--corpus', str(tiny_corpus), '--by', 'voice',
                          '--json', str(tmp_path / 'r.json')]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    report = json.loads((tmp_path / 'r.json').read_text())
    voices = {e['voice'] for e in entries}
    assert set(report['by_voice']) == voices
    assert lines[0].startswith('voice') and len(lines) == len(voices) + 2
    assert json.loads(lines[-1])['lip_error'] > 0
    for row in report['by_voice'].values():
        assert set(row) == set(evaluate.BY_COLUMNS)
        assert row['lip_error_amplitude'] > 0 and row['lip_error_viseme'] > 0
        assert 0 <= row['open_vowels_closed'] <= 1  # open vowels read shut, as lip-e2e-eval
    overall = report['details']['overall']
    assert overall['open_vowels_closed_amplitude'] >= 0 and overall['open_vowels_closed'] >= 0
    assert sum(r['clips'] for r in report['by_voice'].values()) == len(entries)
    engines = evaluate.by_table(report, 'engine')
    assert set(engines) == {'espeak-ng'} and engines['espeak-ng']['clips'] == len(entries)
    assert set(evaluate.by_table(report, 'language')) == {'en', 'de'}
    # Older corpora without an engine field are grouped by their source.
    assert evaluate.engine_of({'source': 'video'}) == 'video'


def test_voice_filter_and_degraded_audio(tiny_corpus, tmp_path):
    model = _untrained_model(tiny_corpus, tmp_path / 'm.pt')
    voice = corpus.read_manifest(tiny_corpus)[0]['voice']
    clean = evaluate.evaluate(model, tiny_corpus, voices=[voice], progress=False, by='engine')
    noisy = evaluate.evaluate(model, tiny_corpus, voices=[voice], progress=False,
                              condition='noise10')
    assert clean['details']['overall']['clips'] == noisy['details']['overall']['clips'] >= 1
    assert noisy['condition'] == 'noise10'
    assert (clean['overall']['lip_error_amplitude'] != noisy['overall']['lip_error_amplitude'])
    with pytest.raises(SystemExit):
        cli.eval_main(['--model', str(model), '--corpus', str(tiny_corpus),
                       '--condition', 'loud-party'])
