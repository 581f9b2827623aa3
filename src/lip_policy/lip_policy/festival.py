"""festival speech with exact phone timing: text + voice -> audio + phones.

festival (Debian package `festival`) runs as a batch process on a generated Scheme script.
The script always selects its voice explicitly (festival's default voice is none of ours),
synthesises each text, saves the wave and prints every item of the utterance's Segment
relation with its end time [s]. Those are the times festival built the waveform from: the
HTS voices generate their frames from these durations, the diphone voices place their
diphones on them.

Only the voices in VOICES are used: the nine `festvox-*` packages named in issue #16. Every
other voice on the machine, of any engine, is reserved for independent evaluation. The Hindi
voice also needs `festival-hi` (language support: lexicon, tokeniser, phone set; no voice).

Each voice reads its text in one encoding. festival-hi's letter-to-sound rules read UTF-8
Devanagari, but festival crashes (segfault) on a Latin letter or a separate nukta sign and
stops on Devanagari letters its rules lack, so the Hindi voice's encoding is HINDI_ENCODING:
UTF-8 of the characters those rules read (found by running each Devanagari character
through the voice), with a consonant + nukta written as the precomposed letter the rules
know. Texts it cannot write are refused, and the corpus builder leaves out words it cannot
write, as for the 8-bit encodings of the other voices.
"""

import codecs
import dataclasses
import os
import pathlib
import shutil
import subprocess
import tempfile
import unicodedata
import wave

import numpy as np

from lip_policy import festival_phones

VOICE_ROOT = pathlib.Path('/usr/share/festival/voices')
TIMEOUT = 60.0  # [s] for one festival run, plus TIMEOUT_PER_TEXT for each text in it
TIMEOUT_PER_TEXT = 10.0  # [s]
_MARK = 'LIPSEG'  # prefixes the lines of the script's output that carry phones


@dataclasses.dataclass(frozen=True)
class FestivalVoice:
    """One festival voice: its Debian package, language, phone set and text encoding."""

    name: str  # festival's voice name; the script calls (voice_<name>)
    package: str  # the Debian package that installs it
    language: str  # wordfreq / corpus language code
    phone_set: str  # festival_phones.PHONE_SETS key
    encoding: str  # the encoding the voice's lexicon reads
    method: str  # 'hts' (statistical parametric) or 'diphone' (recorded diphones)
    directory: str  # under VOICE_ROOT
    # (Debian package, file under FESTIVAL_ROOT it installs): language support the voice
    # loads from outside its own directory
    support: tuple = ()


FESTIVAL_ROOT = pathlib.Path('/usr/share/festival')
HINDI_ENCODING = 'festival-hindi'


VOICES = {v.name: v for v in (
    FestivalVoice('cmu_us_slt_arctic_hts', 'festvox-us-slt-hts', 'en', 'radio', 'latin-1',
                  'hts', 'us/cmu_us_slt_arctic_hts'),
    FestivalVoice('ked_diphone', 'festvox-kdlpc16k', 'en', 'radio', 'latin-1', 'diphone',
                  'english/ked_diphone'),
    FestivalVoice('upc_ca_ona_hts', 'festvox-ca-ona-hts', 'ca', 'upc_catalan-central',
                  'latin-1', 'hts', 'catalan/upc_ca_ona_hts'),
    FestivalVoice('czech_ph', 'festvox-czech-ph', 'cs', 'czech', 'iso-8859-2', 'diphone',
                  'czech/czech_ph'),
    FestivalVoice('czech_machac', 'festvox-czech-machac', 'cs', 'czech', 'iso-8859-2',
                  'diphone', 'czech/czech_machac'),
    FestivalVoice('czech_krb', 'festvox-czech-krb', 'cs', 'czech', 'iso-8859-2', 'diphone',
                  'czech/czech_krb'),
    FestivalVoice('hy_fi_mv_diphone', 'festvox-suopuhe-mv', 'fi', 'finnish', 'latin-1',
                  'diphone', 'finnish/hy_fi_mv_diphone'),
    FestivalVoice('pc_diphone', 'festvox-itapc16k', 'it', 'italian', 'latin-1', 'diphone',
                  'italian/pc_diphone'),
    # Its lexicon, tokeniser and phone set are in festival-hi, which festvox-hi-nsk only
    # recommends; setup installs it (it has no voice).
    FestivalVoice('hindi_NSK_diphone', 'festvox-hi-nsk', 'hi', 'hindi', HINDI_ENCODING,
                  'diphone', 'hindi/hindi_NSK_diphone',
                  support=('festival-hi', 'hindi_scm/hindi_lex.scm')),
)}
PACKAGES = tuple(dict.fromkeys(p for v in VOICES.values()
                               for p in (v.package, *v.support[:1])))
RATE_RANGE = (0.8, 1.25)  # speaking rate factors drawn per clip (1 = the voice's own)


# festival-hi's letter-to-sound rules: the Devanagari characters they read (each checked by
# synthesis with hindi_NSK_diphone; the others stop festival, or - 0x97A-0x97D - are
# dropped unread), and any ASCII character but a letter (punctuation, digits and symbols go
# through its tokeniser: "123" is read as a Hindi number).
_HINDI_CHARACTERS = frozenset(
    ''.join(chr(c) for c in range(0x20, 0x7F) if not chr(c).isalpha())
    + ''.join(chr(c) for first, last in ((0x901, 0x903), (0x905, 0x911), (0x913, 0x939),
                                         (0x93D, 0x94D), (0x950, 0x950), (0x958, 0x961),
                                         (0x964, 0x96F))
              for c in range(first, last + 1)))
_NUKTA = '\u093c'
# consonant + nukta -> the precomposed letter festival-hi's rules read. Unicode keeps
# U+0958-U+095F decomposed in every normal form (wordfreq's words have them so), and
# festival crashes on the separate nukta.
_NUKTA_LETTERS = {
    ''.join(chr(int(h, 16)) for h in unicodedata.decomposition(chr(c)).split()): chr(c)
    for c in (0x929, 0x931, 0x934, *range(0x958, 0x960))}
_NUKTA_DECOMPOSE = {ord(letter): pair for pair, letter in _NUKTA_LETTERS.items()
                    if unicodedata.normalize('NFC', pair) == pair}


def _hindi_encode(text, errors='strict'):
    out, i = [], 0
    while i < len(text):
        letter = _NUKTA_LETTERS.get(text[i:i + 2])
        if letter is not None:
            out.append(letter.encode('utf-8'))
            i += 2
        elif text[i] in _HINDI_CHARACTERS:
            out.append(text[i].encode('utf-8'))
            i += 1
        else:
            error = UnicodeEncodeError(HINDI_ENCODING, text, i, i + 1,
                                       "not a character festival-hi's rules read")
            if errors == 'strict':
                raise error
            replacement, i = codecs.lookup_error(errors)(error)
            out.append(replacement.encode('utf-8') if isinstance(replacement, str)
                       else bytes(replacement))
    return b''.join(out), len(text)


def _hindi_decode(data, errors='strict'):
    text, length = codecs.utf_8_decode(bytes(data), errors, True)
    return text.translate(_NUKTA_DECOMPOSE), length


def _find_codec(name):
    if name.replace('-', '_') == HINDI_ENCODING.replace('-', '_'):
        return codecs.CodecInfo(_hindi_encode, _hindi_decode, name=HINDI_ENCODING)
    return None


codecs.register(_find_codec)


class FestivalError(RuntimeError):
    """festival or a voice is missing, or a synthesis failed; the message says what to do."""


@dataclasses.dataclass
class Utterance:
    """Speech from festival: samples (float32, -1..1), their rate [Hz], and the phones as
    (festival phone, start [s]) in time order, the first starting at 0."""

    audio: np.ndarray
    sample_rate: int
    phones: list


def festival_binary():
    path = shutil.which('festival')
    if path is None:
        raise FestivalError('festival is not installed: run `make setup` as root (it installs '
                            'festival and the voices with apt), or `sudo apt-get install '
                            f'--no-install-recommends festival {" ".join(PACKAGES)}`')
    return path


def check_voice(name):
    """The FestivalVoice of a name, if it can run here; FestivalError says why not."""
    if name not in VOICES:
        raise FestivalError(f'{name!r} is not one of the festival voices this corpus may use '
                            f'({", ".join(VOICES)}); every other voice is reserved for '
                            'independent evaluation')
    voice = VOICES[name]
    festival_binary()
    if not (VOICE_ROOT / voice.directory).is_dir():
        raise FestivalError(f'festival voice {name} is missing: install {voice.package} '
                            '(`make setup` as root does)')
    if voice.support and not (FESTIVAL_ROOT / voice.support[1]).is_file():
        raise FestivalError(f'festival voice {name} is installed but cannot run without '
                            f'{voice.support[0]} (its language support: lexicon, tokeniser, '
                            f'phone set): install {voice.support[0]} (`make setup` as root '
                            'does)')
    return voice


def usable_voices():
    """-> ({name: FestivalVoice} that can run here, {name: reason} for those that cannot)."""
    usable, missing = {}, {}
    for name in VOICES:
        try:
            usable[name] = check_voice(name)
        except FestivalError as error:
            missing[name] = str(error)
    return usable, missing


def scheme_string(text):
    """text as a Scheme string literal: backslashes and quotes escaped, control characters
    (newlines included) turned into spaces, so no text can end the literal early."""
    clean = ''.join(ch if ch.isprintable() else ' ' for ch in text)
    return '"' + clean.replace('\\', '\\\\').replace('"', '\\"') + '"'


def _script(voice, texts, rate, wav_paths):
    """The Scheme script as bytes: each text in the voice's encoding (UnicodeEncodeError if
    it cannot be written so), the code and the wave paths as the file system names them."""
    code = os.fsencode
    lines = [code(f'(voice_{voice.name})')]
    if rate != 1.0:
        if voice.method == 'hts':  # hts_engine's speech speed (> 1 is faster)
            lines.append(code(f'(set! hts_engine_params (append hts_engine_params '
                              f'(list (list "-r" {rate:.4f}))))'))
        else:  # diphone voices stretch their predicted durations, from the voice's own
            # stretch (ked_diphone sets 1.1, hindi_NSK_diphone 1.4, the others leave 1)
            lines.append(code(f"(Parameter.set 'Duration_Stretch (* {1.0 / rate:.4f} "
                              "(Parameter.get 'Duration_Stretch)))"))
    for k, (text, wav) in enumerate(zip(texts, wav_paths)):
        lines += [
            b'(set! utt (utt.synth (Utterance Text '
            + scheme_string(text).encode(voice.encoding) + b')))',
            code(f'(utt.save.wave utt {scheme_string(str(wav))} \'riff)'),
            code(f'(mapcar (lambda (s) (format t "{_MARK} {k} %s %f\\n" (item.name s) '
                 '(item.feat s "end"))) (utt.relation.items utt \'Segment))'),
        ]
    return b'\n'.join(lines) + b'\n'


def _read_wave(path):
    with wave.open(str(path), 'rb') as source:
        if source.getsampwidth() != 2 or source.getnchannels() != 1:
            raise FestivalError(f'festival wrote {path} as something other than mono 16-bit')
        rate = source.getframerate()
        data = source.readframes(source.getnframes())
    return np.frombuffer(data, '<i2').astype(np.float32) / 32768.0, rate


def say_many(texts, voice_name, rate=1.0, timeout=None):
    """Speak each text with one voice at one rate factor, in one festival run.

    Returns one Utterance per text. Raises FestivalError when festival or the voice is
    missing, a text cannot be written in the voice's encoding, festival fails or times out,
    or an utterance comes back without phones.
    """
    voice = check_voice(voice_name)
    texts = list(texts)
    if any(not t or not t.strip() for t in texts):
        raise FestivalError('nothing to say: a text is empty')
    timeout = timeout if timeout is not None else TIMEOUT + TIMEOUT_PER_TEXT * len(texts)
    with tempfile.TemporaryDirectory(prefix='lip_festival_') as tmp:
        wavs = [pathlib.Path(tmp) / f'{k}.wav' for k in range(len(texts))]
        script = pathlib.Path(tmp) / 'say.scm'
        try:
            script.write_bytes(_script(voice, texts, rate, wavs))
        except UnicodeEncodeError as error:
            raise FestivalError(f'a text has characters that voice {voice.name} '
                                f'({voice.encoding}) cannot read: {error}') from error
        try:
            run = subprocess.run([festival_binary(), '--batch', str(script)], cwd=tmp,
                                 capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise FestivalError(f'festival ({voice.name}) took more than {timeout:.0f} s for '
                                f'{len(texts)} text(s); is the machine overloaded?') from error
        output = run.stdout.decode(voice.encoding, 'replace')
        ends = [[] for _ in texts]
        for line in output.splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0] == _MARK:
                ends[int(parts[1])].append((parts[2], float(parts[3])))
        utterances = []
        for k, wav in enumerate(wavs):
            if not wav.is_file() or not ends[k]:
                stderr = run.stderr.decode(voice.encoding, 'replace').strip()[-500:]
                raise FestivalError(f'festival ({voice.name}) made no speech for '
                                    f'{texts[k]!r} (exit {run.returncode}): {stderr}')
            audio, sample_rate = _read_wave(wav)
            starts = [0.0] + [end for _, end in ends[k][:-1]]
            utterances.append(Utterance(audio, sample_rate,
                                        [(name, s) for (name, _), s in zip(ends[k], starts)]))
    return utterances


def say(text, voice_name, rate=1.0, timeout=None):
    """Speak one text: -> Utterance (see say_many)."""
    return say_many([text], voice_name, rate, timeout)[0]


def to_ipa(phones, voice_name):
    """[(festival phone, start)] of a voice -> [(IPA, start)] for the teacher."""
    phone_set = VOICES[voice_name].phone_set
    return [(festival_phones.to_ipa(name, phone_set), start) for name, start in phones]
