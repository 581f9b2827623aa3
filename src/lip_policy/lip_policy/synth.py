"""Synthetic speech and song clips: espeak-ng or festival audio + the teacher's lip trajectories.

Speech: a sentence of random words from the language's wordfreq list (the 3000 most common
words), spoken by a random voice variant at a random rate and pitch. Song: syllables held
along a melody; each note is one syllable spoken at the note's pitch with a flat intonation
(pitch range 0), its vowel time-stretched (pitch kept) to the note's duration.
Festival speech (`synthesise_festival`): the same kind of sentence in the voice's language,
spoken by one of festival.VOICES at a random rate; its phones go to IPA through
festival_phones and on to the same teacher.
"""

import numpy as np
import scipy.signal

from face_common.frames import HOP, SAMPLE_RATE
from lip_policy import corpus, festival, teacher, visemes
from lip_policy.espeak import Speaker

# wordfreq language code -> espeak-ng voice. All are built into espeakng_loader's data.
LANGUAGES = {
    'ar': 'ar', 'bg': 'bg', 'bn': 'bn', 'ca': 'ca', 'cs': 'cs', 'da': 'da', 'de': 'de',
    'el': 'el', 'en': 'en', 'es': 'es', 'fa': 'fa', 'fi': 'fi', 'fr': 'fr', 'he': 'he',
    'hi': 'hi', 'hu': 'hu', 'id': 'id', 'is': 'is', 'it': 'it', 'ja': 'ja', 'ko': 'ko',
    'lt': 'lt', 'lv': 'lv', 'mk': 'mk', 'ms': 'ms', 'nb': 'nb', 'nl': 'nl', 'pl': 'pl',
    'pt': 'pt', 'ro': 'ro', 'ru': 'ru', 'sh': 'sr', 'sk': 'sk', 'sl': 'sl', 'sv': 'sv',
    'ta': 'ta', 'tr': 'tr', 'uk': 'uk', 'ur': 'ur', 'vi': 'vi', 'zh': 'cmn',
}
# espeak-ng voice variants: different formants, pitch and breathiness per "speaker".
VARIANTS = ('', '+m1', '+m3', '+m5', '+m7', '+f1', '+f2', '+f3', '+f4', '+f5')
SYLLABLES = ('la', 'ma', 'na', 'pa', 'ba', 'wo', 'lu', 'mi', 'fa', 'vo', 'so', 'do', 'ko',
             'ne', 'ti', 'bu', 'mo', 'pi', 'wa', 'ru', 'fe', 'me', 'bo', 'u', 'o', 'a')
PENTATONIC = (0, 2, 4, 7, 9, 12, 14)  # [semitones] the melodies' scale
PAUSE = 0.15  # [s] silence before and after every clip, so lips can move ahead of the sound
RATE_RANGE = (130, 230)  # [words/min] speaking rates
PITCH_RANGE = (25, 75)  # espeak pitch 0..100


class SynthError(ValueError):
    """A synthesis request that cannot be met (unknown language, bad counts)."""


def check_languages(languages):
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown:
        raise SynthError(f'unknown language(s) {unknown}; choose from '
                         f'{",".join(sorted(LANGUAGES))}')


def _words(language):
    import wordfreq

    words = [w for w in wordfreq.top_n_list(language, 3000) if any(c.isalpha() for c in w)]
    if len(words) < 50:
        raise SynthError(f'wordfreq has too few words for {language}')
    return words


def to_corpus_rate(audio, rate):
    """Resample espeak's audio (22050 Hz) to the corpus rate (16 kHz)."""
    if rate == SAMPLE_RATE:
        return audio.astype(np.float32)
    g = np.gcd(rate, SAMPLE_RATE)
    return scipy.signal.resample_poly(audio, SAMPLE_RATE // g, rate // g).astype(
        np.float32)


def _finish(audio, rate, phonemes):
    """Pad with PAUSE, resample, and teach: (audio16k, lips, phonemes, params)."""
    pad = np.zeros(int(PAUSE * rate), np.float32)
    audio = to_corpus_rate(np.concatenate([pad, audio, pad]), rate)
    phonemes = [('', 0.0)] + [(ipa, start + PAUSE) for ipa, start in phonemes]
    duration = len(audio) / SAMPLE_RATE
    frames = len(audio) // HOP
    lips, params = teacher.teach(phonemes, duration, frames)
    return audio, lips, phonemes


def speech_clip(speaker, language, rng, words):
    """One spoken sentence: (info, audio16k, lips, phonemes)."""
    voice = LANGUAGES[language] + VARIANTS[rng.integers(len(VARIANTS))]
    text = ' '.join(rng.choice(words, size=rng.integers(4, 10)))
    rate = int(rng.integers(*RATE_RANGE))
    pitch = int(rng.integers(*PITCH_RANGE))
    said = speaker.say(text, voice, rate=rate, pitch=pitch)
    phonemes = [(p.ipa, p.start) for p in said.phonemes]
    audio, lips, phonemes = _finish(said.audio, said.sample_rate, phonemes)
    info = dict(kind='speech', language=language, voice=voice, speaker=voice, text=text,
                rate_wpm=rate, pitch=pitch, source='espeak-ng', engine='espeak-ng')
    return info, audio, lips, phonemes


def _sung_note(speaker, voice, syllable, pitch, duration):
    """One syllable held for duration [s] at an espeak pitch: (audio, phonemes)."""
    said = speaker.say(syllable, voice, rate=150, pitch=pitch, pitch_range=0)
    rate = said.sample_rate
    phonemes = [(p.ipa, p.start) for p in said.phonemes]
    vowel = next((k for k, (ipa, _) in enumerate(phonemes)
                  if set(visemes.visemes_of(ipa)) & set(visemes.VOWEL_VISEMES)), None)
    if vowel is None:
        return said.audio, phonemes
    start = int(phonemes[vowel][1] * rate)
    end = int(phonemes[vowel + 1][1] * rate) if vowel + 1 < len(phonemes) else len(said.audio)
    held = said.audio[start:end]
    target = max(duration - start / rate, 0.1)
    if len(held) > 512:
        import librosa

        # A short STFT keeps the stretch defined for short vowels.
        held = librosa.effects.time_stretch(held, rate=len(held) / (target * rate),
                                            n_fft=512, hop_length=128)
    shift = (len(held) - (end - start)) / rate
    tail = said.audio[end:end + int(0.05 * rate)]
    audio = np.concatenate([said.audio[:start], held, tail])
    phonemes = phonemes[:vowel + 1] + [(ipa, t + shift) for ipa, t in phonemes[vowel + 1:]
                                       if t + shift < len(audio) / rate]
    return audio, phonemes


def sung_clip(speaker, language, rng):
    """A melody of held syllables: (info, audio16k, lips, phonemes)."""
    voice = LANGUAGES[language] + VARIANTS[rng.integers(len(VARIANTS))]
    base = int(rng.integers(20, 45))
    notes = int(rng.integers(5, 9))
    pieces, phonemes, offset, rate = [], [], 0.0, None
    melody = []
    for _ in range(notes):
        syllable = SYLLABLES[rng.integers(len(SYLLABLES))]
        step = PENTATONIC[rng.integers(len(PENTATONIC))]
        duration = float(rng.choice([0.3, 0.45, 0.6, 0.9, 1.2]))
        pitch = int(np.clip(base + 3 * step, 0, 100))
        audio, note_phonemes = _sung_note(speaker, voice, syllable, pitch, duration)
        rate = speaker.sample_rate
        phonemes += [(ipa, t + offset) for ipa, t in note_phonemes]
        pieces.append(audio)
        offset += len(audio) / rate
        melody.append([syllable, pitch, duration])
    audio, lips, phonemes = _finish(np.concatenate(pieces), rate, phonemes)
    info = dict(kind='sung', language=language, voice=voice, speaker=voice,
                text=' '.join(m[0] for m in melody), melody=melody, source='espeak-ng',
                engine='espeak-ng')
    return info, audio, lips, phonemes


def synthesise(languages, clips_per_language, sung_per_language, seed, out_dir, progress=True):
    """Build (or extend) a synthetic corpus; returns the manifest entries written.

    Clip ids encode language, kind and index, so re-running with the same arguments skips
    clips that are already complete and an interrupted run can simply be restarted.
    """
    from tqdm import tqdm

    check_languages(languages)
    if clips_per_language < 0 or sung_per_language < 0:
        raise SynthError('clip counts must be >= 0')
    writer = corpus.CorpusWriter(out_dir)
    done = writer.existing_ids()
    speaker = Speaker()
    jobs = [(lang, kind, k) for lang in languages
            for kind, count in (('speech', clips_per_language), ('sung', sung_per_language))
            for k in range(count)]
    written = []
    for lang, kind, k in tqdm(jobs, desc='lip-corpus synth', unit='clip', disable=not progress):
        clip_id = f'{lang}_{kind}_{k:04d}'
        if clip_id in done:
            continue
        # Each clip has its own generator, so a clip is the same whatever else is built.
        rng = np.random.default_rng([seed, sorted(LANGUAGES).index(lang), kind == 'sung', k])
        if kind == 'speech':
            info, audio, lips, phonemes = speech_clip(speaker, lang, rng, _words(lang))
        else:
            info, audio, lips, phonemes = sung_clip(speaker, lang, rng)
        written.append(writer.add(dict(id=clip_id, **info), audio, lips, phonemes=phonemes))
    return written


FESTIVAL_BLOCK = 10  # clips per festival run; the clips of a block share a speaking rate


def _festival_text(language, encoding, rng, words):
    """4 to 9 random words, each of which the voice's 8-bit encoding can write."""
    usable = [w for w in words if w.encode(encoding, 'ignore').decode(encoding) == w]
    return ' '.join(rng.choice(usable, size=rng.integers(4, 10)))


def synthesise_festival(voices, clips_per_voice, seed, out_dir, progress=True):
    """Add festival speech clips (ids fest_<voice>_<k>) to a corpus; returns the entries
    written. Resumable like `synthesise`: each block of FESTIVAL_BLOCK clips has its own
    generator for its rate and each clip its own for its text, so a clip is the same
    whatever else is built. festival.FestivalError if festival or a voice cannot run."""
    from tqdm import tqdm

    if clips_per_voice < 0:
        raise SynthError('clip counts must be >= 0')
    for name in voices:
        festival.check_voice(name)
    writer = corpus.CorpusWriter(out_dir)
    done = writer.existing_ids()
    blocks = [(name, b) for name in voices
              for b in range(0, clips_per_voice, FESTIVAL_BLOCK)]
    written = []
    for name, first in tqdm(blocks, desc='lip-corpus festival', unit='block',
                            disable=not progress):
        voice = festival.VOICES[name]
        voice_index = list(festival.VOICES).index(name)
        ids = [f'fest_{name}_{k:04d}' for k in range(first, min(first + FESTIVAL_BLOCK,
                                                                   clips_per_voice))]
        todo = [(k, clip_id) for k, clip_id in enumerate(ids, first) if clip_id not in done]
        if not todo:
            continue
        rate = float(np.random.default_rng([seed, voice_index, 1000, first]).uniform(
            *festival.RATE_RANGE))
        words = _words(voice.language)
        texts = [_festival_text(voice.language, voice.encoding,
                                np.random.default_rng([seed, voice_index, k]), words)
                 for k, _ in todo]
        for (_, clip_id), text, said in zip(todo, texts,
                                            festival.say_many(texts, name, rate)):
            audio, lips, phonemes = _finish(said.audio, said.sample_rate,
                                            festival.to_ipa(said.phones, name))
            info = dict(id=clip_id, kind='speech', language=voice.language, voice=name,
                        speaker=name, text=text, rate=round(rate, 3), source='festival',
                        engine='festival', method=voice.method, phone_set=voice.phone_set)
            written.append(writer.add(info, audio, lips, phonemes=phonemes))
    return written
