"""festival speech with exact phone timing, its phone tables, and festival corpus clips.

Tests that run festival need it installed (`make setup` as root installs it and the voices);
without it they skip and say so.
"""

import shutil
import subprocess

import numpy as np
import pytest

from face_common.frames import HOP, SAMPLE_RATE
from lip_policy import cli, corpus, festival, festival_phones, synth, visemes

needs_festival = pytest.mark.skipif(
    shutil.which('festival') is None,
    reason='festival is not installed: run `make setup` as root to install it and its voices')


def test_texts_cannot_escape_their_scheme_string():
    assert festival.scheme_string('say "hi" \\ (voice_x)') == r'"say \"hi\" \\ (voice_x)"'
    assert festival.scheme_string('two\nlines\x00') == '"two lines "'


def test_every_table_entry_is_a_lip_class():
    for name, table in festival_phones.PHONE_SETS.items():
        for phone, ipa in table.items():
            assert visemes.visemes_of(ipa) != [visemes.SILENCE], (name, phone, ipa)
    assert festival_phones.to_ipa('pau', 'radio') == ''
    assert visemes.visemes_of(festival_phones.to_ipa('uw', 'radio')) == ['U']
    assert visemes.visemes_of(festival_phones.to_ipa('m:', 'finnish')) == ['PP']
    with pytest.raises(festival_phones.UnknownPhoneError, match='no IPA'):
        festival_phones.to_ipa('qq', 'radio')


def test_voices_outside_the_list_are_refused():
    with pytest.raises(festival.FestivalError, match='reserved'):
        festival.check_voice('kal_diphone')


@needs_festival
def test_every_phone_of_every_usable_voice_has_an_entry(tmp_path):
    usable, missing = festival.usable_voices()
    assert set(usable) | set(missing) == set(festival.VOICES)
    assert 'cmu_us_slt_arctic_hts' in usable, missing
    for name, voice in usable.items():
        script = (f'(voice_{name})\n(format t "%l\\n" (mapcar car (cadr (assoc \'phones '
                  "(PhoneSet.description '(phones))))))\n")
        (tmp_path / 'phones.scm').write_text(script)
        out = subprocess.run(['festival', '--batch', str(tmp_path / 'phones.scm')],
                             timeout=60, capture_output=True, check=True).stdout.decode('latin-1')
        phones = out.strip().strip('()').split()
        assert len(phones) > 20, (name, out)
        for phone in phones:
            festival_phones.to_ipa(phone, voice.phone_set)  # raises if a phone is missing


@needs_festival
def test_festival_reports_phones_inside_its_audio():
    said = festival.say('Bob\'s "big" moon', 'cmu_us_slt_arctic_hts', rate=1.2)
    duration = len(said.audio) / said.sample_rate
    starts = [start for _, start in said.phones]
    assert said.sample_rate == 32000 and 0.5 < duration < 5
    assert starts == sorted(starts) and starts[0] == 0.0 and starts[-1] < duration
    names = [name for name, _ in said.phones]
    assert names[0] == 'pau' and {'b', 'm', 'uw'} <= set(names)
    # Closures are quiet: the bilabial stops are softer than the vowels around them.
    hop = said.sample_rate // 100
    rms = np.sqrt(np.convolve(said.audio ** 2, np.ones(hop) / hop, 'same'))
    ends = starts[1:] + [duration]

    def level(phone):
        return np.mean([rms[int(s * said.sample_rate):int(e * said.sample_rate)].mean()
                        for (n, s), e in zip(said.phones, ends) if n == phone])
    assert level('b') < 0.5 * level('uw')
    ipa = festival.to_ipa(said.phones, 'cmu_us_slt_arctic_hts')
    assert ipa[0] == ('', 0.0) and ('u', said.phones[names.index('uw')][1]) in ipa


@needs_festival
def test_czech_text_reaches_the_lexicon_in_its_encoding():
    said = festival.say('příliš žluťoučký kůň', 'czech_ph')
    names = [name for name, _ in said.phones]
    assert {'r~*', 'z~', 'c~', 'u:', 'n~'} <= set(names), names


@needs_festival
def test_unusable_voices_and_texts_raise_clear_errors():
    _, missing = festival.usable_voices()
    if 'hindi_NSK_diphone' in missing:
        assert 'festival-hi' in missing['hindi_NSK_diphone']
    with pytest.raises(festival.FestivalError, match='empty'):
        festival.say('  ', 'ked_diphone')
    with pytest.raises(festival.FestivalError, match='cannot read'):
        festival.say('日本', 'ked_diphone')


@needs_festival
def test_festival_clips_join_the_corpus_and_resume(tmp_path):
    out = tmp_path / 'fest'
    entries = synth.synthesise_festival(['ked_diphone', 'czech_krb'], 2, 5, out,
                                        progress=False)
    assert [e['id'] for e in entries] == ['fest_ked_diphone_0000', 'fest_ked_diphone_0001',
                                          'fest_czech_krb_0000', 'fest_czech_krb_0001']
    for clip in corpus.load_corpus(out):
        assert clip.info['engine'] == 'festival' and clip.info['speaker'] == clip.info['voice']
        assert clip.lips.shape == (len(clip.audio) // HOP, 40, 3)
        assert np.isfinite(clip.lips).all() and 0.01 < np.abs(clip.audio).max() <= 1.0
        assert clip.phonemes[-1][1] <= len(clip.audio) / SAMPLE_RATE
        seen = {v for ipa, _ in clip.phonemes for v in visemes.visemes_of(ipa)}
        assert len(seen) >= 6
    assert synth.synthesise_festival(['ked_diphone', 'czech_krb'], 2, 5, out,
                                     progress=False) == []
    assert cli.corpus_main(['festival', '--voices', 'kal_diphone', '--out', str(out)]) == 2
