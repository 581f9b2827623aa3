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
    silent = set()
    for name, table in festival_phones.PHONE_SETS.items():
        for phone, ipa in table.items():
            if ipa == '':
                silent.add((name, phone))
            else:
                assert visemes.visemes_of(ipa) != [visemes.SILENCE], (name, phone, ipa)
    # Only the phones hindi_NSK_diphone renders as silence are written as silence.
    assert silent == {('hindi', 'x'), ('hindi', 'w')}
    assert festival_phones.to_ipa('pau', 'radio') == ''
    assert visemes.visemes_of(festival_phones.to_ipa('uw', 'radio')) == ['U']
    assert visemes.visemes_of(festival_phones.to_ipa('m:', 'finnish')) == ['PP']
    hindi = {phone: visemes.visemes_of(festival_phones.to_ipa(phone, 'hindi'))
             for phone in ('a', 'bh', 'f', 'th', 'r', 'ay', 'oh')}
    assert hindi == {'a': ['AA'], 'bh': ['PP'], 'f': ['FF'], 'th': ['DD'], 'r': ['DD'],
                     'ay': ['E', 'I'], 'oh': ['O']}
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
    for name, reason in missing.items():  # only a missing package keeps a voice out
        voice = festival.VOICES[name]
        assert 'install ' in reason and (voice.package in reason
                                         or voice.support[:1][0] in reason), reason
    for name, voice in usable.items():
        script = (f'(voice_{name})\n(format t "%s\\n" (cadr (assoc \'name '
                  "(PhoneSet.description '(name)))))\n"
                  '(format t "%l\\n" (mapcar car (cadr (assoc \'phones '
                  "(PhoneSet.description '(phones))))))\n")
        (tmp_path / 'phones.scm').write_text(script)
        out = subprocess.run(['festival', '--batch', str(tmp_path / 'phones.scm')],
                             timeout=60, capture_output=True, check=True).stdout.decode('latin-1')
        phone_set, phones = out.strip().split('\n')[-2:]
        assert phone_set == voice.phone_set, (name, out)
        phones = phones.strip('()').split()
        assert len(phones) > 20, (name, out)
        for phone in phones:
            festival_phones.to_ipa(phone, voice.phone_set)  # raises if a phone is missing


# One sentence per language with bilabial stops and open vowels, for the timing check.
_STOPS_AND_VOWELS = {
    'en': 'Bob bought a big map, papa.', 'ca': 'La pipa del pare és bona, papa.',
    'cs': 'Baba pije pivo a papá.', 'fi': 'Pappa ja papukaija ajavat.',
    'it': 'La pipa di papà è bella.', 'hi': 'बाबा पापा से बात करता है।',
}


def _level(said, ipa, chosen):
    """Mean RMS (10 ms windows) of an utterance's phones whose IPA `chosen` accepts."""
    rate = said.sample_rate
    hop = rate // 100
    rms = np.sqrt(np.convolve(said.audio ** 2, np.ones(hop) / hop, 'same'))
    starts = [start for _, start in said.phones]
    spans = [(s, e) for p, s, e in zip(ipa, starts, starts[1:] + [len(said.audio) / rate])
             if chosen(p) and e > s]
    assert spans
    return np.mean([rms[int(s * rate):int(e * rate)].mean() for s, e in spans])


@needs_festival
def test_every_usable_voice_reports_phones_where_its_audio_has_them():
    usable, _ = festival.usable_voices()
    for name, voice in usable.items():
        said = festival.say(_STOPS_AND_VOWELS[voice.language], name, rate=1.1)
        duration = len(said.audio) / said.sample_rate
        starts = [start for _, start in said.phones]
        assert starts == sorted(starts) and starts[0] == 0.0 and starts[-1] < duration, name
        ipa = [festival_phones.to_ipa(phone, voice.phone_set) for phone, _ in said.phones]
        vowels = _level(said, ipa, lambda p: visemes.visemes_of(p) == ['AA'])
        # /p b/ close the lips and are quieter than the open vowels; pauses quieter still.
        assert _level(said, ipa, lambda p: p in ('p', 'b')) < 0.6 * vowels, name
        assert _level(said, ipa, lambda p: p == '') < 0.5 * vowels, name


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


def test_hindi_encoding_writes_what_festival_hi_reads():
    encoding = festival.HINDI_ENCODING
    # A separate nukta (as Unicode keeps ड़ ज़ ...) becomes the precomposed letter.
    assert 'ड\u093c ज\u093c'.encode(encoding) == '\u095c \u095b'.encode()
    assert 'ड\u093c ज\u093c, १२३!'.encode(encoding).decode(encoding) == 'ड\u093c ज\u093c, १२३!'
    for text in ('news समाचार', '\u0979', 'क\u093c\u093c'):  # Latin, ZHA, a lone nukta
        with pytest.raises(UnicodeEncodeError):
            text.encode(encoding)
    assert 'news समाचार'.encode(encoding, 'ignore') == ' समाचार'.encode()


@needs_festival
def test_hindi_text_reaches_the_lexicon_in_its_encoding():
    texts = ['नमस्ते, आप कैसे हैं?', 'मुझे ठंडा पानी चाहिए।',
             'बड\u093cी लड\u093cकी ज\u093cमीन पर फूल देखती है।', 'धन्यवाद, भारत १२३ साल पुराना है']
    said = festival.say_many(texts, 'hindi_NSK_diphone', rate=0.9)
    names = [[name for name, _ in utterance.phones] for utterance in said]
    assert names[0] == ['pau', 'n', 'a', 'm', 'a', 's', 'th', 'eh', 'pau', 'aa', 'p', 'a', 'k',
                        'ay', 's', 'eh', 'h', 'ay', 'm', 'pau']
    assert names[2][:5] == ['pau', 'b', 'a', 'D', 'iy'] and 'f' in names[2]
    assert {'T', 'ch', 'ddh', 'bh', 'kh', 'dh', 'aw'} <= set(sum(names, [])), names
    for utterance in said:
        assert utterance.sample_rate == 16000
        assert utterance.phones[-1][1] < len(utterance.audio) / utterance.sample_rate
        ipa = festival.to_ipa(utterance.phones, 'hindi_NSK_diphone')
        assert ipa[0] == ('', 0.0) and all(v or n == 'pau' for v, (n, _) in
                                           zip((p for p, _ in ipa), utterance.phones))


@needs_festival
def test_unusable_voices_and_texts_raise_clear_errors():
    _, missing = festival.usable_voices()
    if 'hindi_NSK_diphone' in missing:
        assert 'festival-hi' in missing['hindi_NSK_diphone'] or \
            'festvox-hi-nsk' in missing['hindi_NSK_diphone']
    with pytest.raises(festival.FestivalError, match='empty'):
        festival.say('  ', 'ked_diphone')
    with pytest.raises(festival.FestivalError, match='cannot read'):
        festival.say('日本', 'ked_diphone')
    # festival crashes on Latin letters in Hindi; they are refused before it runs.
    with pytest.raises(festival.FestivalError, match='cannot read'):
        festival.say('hello नमस्ते', 'hindi_NSK_diphone')


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


@needs_festival
def test_hindi_clips_from_the_command(tmp_path, capsys):
    out = tmp_path / 'hindi'
    assert cli.corpus_main(['festival', '--voices', 'hindi_NSK_diphone', '--clips-per-voice',
                            '2', '--seed', '3', '--out', str(out)]) == 0
    clips = list(corpus.load_corpus(out))
    assert [c.info['id'] for c in clips] == ['fest_hindi_NSK_diphone_0000',
                                              'fest_hindi_NSK_diphone_0001']
    for clip in clips:
        assert clip.info['language'] == 'hi' and clip.info['phone_set'] == 'hindi'
        assert clip.lips.shape == (len(clip.audio) // HOP, 40, 3)
        assert clip.phonemes[-1][1] <= len(clip.audio) / SAMPLE_RATE
        assert len({v for ipa, _ in clip.phonemes for v in visemes.visemes_of(ipa)}) >= 6
