"""espeak-ng speech with exact phoneme timing, through its C API (ctypes).

espeak-ng's `--pho` output needs MBROLA voices, but its synth callback reports every
phoneme (IPA name and audio position in ms) alongside the samples it produces, which is
exactly the timing the lip teacher needs. The library and its data come from the
espeakng_loader wheel, so nothing is installed system-wide.

espeak-ng keeps global state, so one process holds one engine; `Speaker` serialises use.
"""

import ctypes
import dataclasses
import threading

import numpy as np

# From espeak-ng's speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_PITCH = 3
_PARAM_RANGE = 4
_EE_OK = 0


class _EventId(ctypes.Union):
    _fields_ = [('number', ctypes.c_int), ('name', ctypes.c_char_p),
                ('string', ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [('type', ctypes.c_int), ('unique_identifier', ctypes.c_uint),
                ('text_position', ctypes.c_int), ('length', ctypes.c_int),
                ('audio_position', ctypes.c_int), ('sample', ctypes.c_int),
                ('user_data', ctypes.c_void_p), ('id', _EventId)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


class EspeakError(RuntimeError):
    """espeak-ng could not be loaded or refused a voice, parameter or text."""


@dataclasses.dataclass
class Phoneme:
    """One phoneme as espeak-ng spoke it: IPA name and start time [s] in the audio."""

    ipa: str
    start: float


@dataclasses.dataclass
class Utterance:
    """Synthesised speech: samples (float32, -1..1), their rate [Hz], and phoneme timing."""

    audio: np.ndarray
    sample_rate: int
    phonemes: list
    words: list  # start times [s] of words


class Speaker:
    """The espeak-ng engine of this process: say(text, voice, rate, pitch) -> Utterance."""

    _lock = threading.Lock()
    _library = None
    _sample_rate = None

    def __init__(self):
        with Speaker._lock:
            if Speaker._library is None:
                Speaker._library, Speaker._sample_rate = _load()
        self._lib = Speaker._library
        self.sample_rate = Speaker._sample_rate

    def say(self, text, voice='en', rate=175, pitch=50, pitch_range=50):
        """Speak text with a voice ('en', 'de', 'fr+f3', ...), rate [words/min], pitch [0..100].

        Returns the Utterance; phoneme starts are exact positions in its audio.
        """
        if not text or not text.strip():
            raise EspeakError('nothing to say: text is empty')
        with Speaker._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise EspeakError(f'espeak-ng has no voice {voice!r}; pick one from its '
                                  'espeak-ng-data/voices or a language code such as "en"')
            for param, value in ((_PARAM_RATE, rate), (_PARAM_PITCH, pitch),
                                 (_PARAM_RANGE, pitch_range)):
                if self._lib.espeak_SetParameter(param, int(value), 0) != _EE_OK:
                    raise EspeakError(f'espeak-ng rejected parameter {param}={value}')
            chunks, phonemes, words = [], [], []

            def on_synth(samples, count, events):
                if count > 0:
                    chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
                i = 0
                while events[i].type != _EVENT_LIST_TERMINATED:
                    event = events[i]
                    if event.type == _EVENT_PHONEME:
                        name = bytes(event.id.string).split(b'\0')[0].decode('utf-8', 'replace')
                        # "(en)" marks a switch of language (a foreign word), not a sound.
                        if not name.startswith('('):
                            phonemes.append(Phoneme(name, event.audio_position / 1000.0))
                    elif event.type == _EVENT_WORD:
                        words.append(event.audio_position / 1000.0)
                    i += 1
                return 0

            callback = _CALLBACK(on_synth)  # kept alive for the whole synthesis
            self._lib.espeak_SetSynthCallback(callback)
            data = text.encode('utf-8') + b'\0'
            status = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0,
                                            _CHARS_UTF8, None, None)
            self._lib.espeak_Synchronize()
            if status != _EE_OK:
                raise EspeakError(f'espeak-ng failed to synthesise (status {status})')
        audio = (np.concatenate(chunks).astype(np.float32) / 32768.0 if chunks
                 else np.zeros(0, np.float32))
        return Utterance(audio, self.sample_rate, phonemes, words)


def _load():
    try:
        import espeakng_loader
    except ImportError as error:  # pragma: no cover - part of the locked environment
        raise EspeakError('espeakng_loader is missing: run `make setup`') from error
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    data_path = espeakng_loader.get_data_path().encode()
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path,
                                 _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA
                                 | _INITIALIZE_DONT_EXIT)
    if rate <= 0:
        raise EspeakError(f'espeak-ng failed to initialise with data at {data_path.decode()}')
    return lib, rate
