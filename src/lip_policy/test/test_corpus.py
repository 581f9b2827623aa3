"""Corpus building on 2 tiny languages, and clear errors for broken corpora."""

import json
import shutil

import numpy as np
import pytest

from face_common.frames import HOP, SAMPLE_RATE
from lip_policy import cli, corpus, synth
from lip_policy.espeak import EspeakError, Speaker


def test_espeak_reports_phonemes_inside_its_audio():
    said = Speaker().say('maybe we move', 'en')
    duration = len(said.audio) / said.sample_rate
    starts = [p.start for p in said.phonemes]
    assert said.sample_rate == 22050 and duration > 0.3
    assert starts == sorted(starts) and 0.0 <= starts[0] and starts[-1] <= duration + 1e-3
    assert 'm' in [p.ipa for p in said.phonemes]
    # A Latin-script word in a Greek voice switches language; the switch is not a phoneme.
    greek = Speaker().say('la', 'el')
    assert [p.ipa for p in greek.phonemes][:2] == ['l', 'ˈa']
    with pytest.raises(EspeakError, match='no voice'):
        Speaker().say('hello', 'no-such-voice')
    with pytest.raises(EspeakError, match='empty'):
        Speaker().say('  ', 'en')


def test_synth_builds_a_manifest_of_complete_clips(tiny_corpus):
    entries = corpus.read_manifest(tiny_corpus)
    assert {e['language'] for e in entries} == {'en', 'de'}
    assert sum(e['kind'] == 'sung' for e in entries) == 2
    assert len({e['speaker'] for e in entries}) >= 2
    clips = corpus.load_corpus(tiny_corpus)
    for clip in clips:
        assert clip.lips.shape == (len(clip.audio) // HOP, 40, 3)
        assert clip.valid.all() and np.isfinite(clip.lips).all()
        assert clip.phonemes and clip.phonemes[-1][1] <= len(clip.audio) / SAMPLE_RATE
        assert 0.01 < np.abs(clip.audio).max() <= 1.0
    sung = [c for c in clips if c.info['kind'] == 'sung'][0]
    assert len(sung.info['melody']) >= 5


def test_synth_is_resumable_and_rejects_unknown_languages(tiny_corpus, tmp_path):
    copy = tmp_path / 'copy'
    shutil.copytree(tiny_corpus, copy)
    assert synth.synthesise(['en', 'de'], 4, 1, 3, copy, progress=False) == []
    with pytest.raises(synth.SynthError, match='unknown language'):
        synth.synthesise(['xx'], 1, 0, 0, copy, progress=False)
    assert cli.corpus_main(['synth', '--languages', 'xx', '--out', str(copy)]) == 2


def test_a_crash_while_a_clip_is_added_loses_only_that_clip(tiny_corpus, tmp_path):
    """A build killed while appending the manifest leaves a torn last line: reading skips
    it (that clip is not in the corpus) and a resumed build makes the clip again."""
    copy = tmp_path / 'copy'
    shutil.copytree(tiny_corpus, copy)
    manifest = copy / corpus.MANIFEST
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text(''.join(lines[:-1]) + lines[-1][:len(lines[-1]) // 2])
    entries = corpus.read_manifest(copy)
    assert [e['id'] for e in entries] == [json.loads(line)['id'] for line in lines[:-1]]
    made = synth.synthesise(['en', 'de'], 4, 1, 3, copy, progress=False)
    assert [e['id'] for e in made] == [json.loads(lines[-1])['id']]
    assert len(corpus.load_corpus(copy)) == len(lines)


def test_broken_clips_give_errors_that_name_the_file(tiny_corpus, tmp_path):
    copy = tmp_path / 'copy'
    shutil.copytree(tiny_corpus, copy)
    entries = corpus.read_manifest(copy)
    first, second, third = entries[0]['id'], entries[1]['id'], entries[2]['id']
    (copy / 'clips' / f'{first}.wav').write_bytes(b'RIFF garbage')
    with pytest.raises(corpus.CorpusError, match=f'{first}.wav is corrupt'):
        corpus.load_clip(copy, entries[0])
    (copy / 'clips' / f'{second}.npz').unlink()
    with pytest.raises(corpus.CorpusError, match='missing'):
        corpus.load_clip(copy, entries[1])
    corpus.write_wav(copy / 'clips' / f'{third}.wav', np.zeros(0))
    with pytest.raises(corpus.CorpusError, match='empty'):
        corpus.load_clip(copy, entries[2])
    with pytest.raises(corpus.CorpusError, match='no manifest.jsonl'):
        corpus.read_manifest(tmp_path / 'nowhere')
    with (copy / corpus.MANIFEST).open('a') as manifest:
        manifest.write('{not json\n')
    with pytest.raises(corpus.CorpusError, match='not JSON'):
        corpus.read_manifest(copy)
    with pytest.raises(corpus.CorpusError, match='empty'):
        corpus.CorpusWriter(tmp_path / 'new').add({'id': 'x'}, np.zeros(0), np.zeros((0, 40, 3)))
    assert json.loads((copy / 'clips' / f'{third}.phonemes.json').read_text())
