"""Text-to-speech engines: one sentence in, mono samples out.

- espeak: espeak-ng in this process (lip_policy.espeak.Speaker), no install needed.
- festival: lip_policy.festival (festival in batch mode, the voice always named, texts
  written in the voice's encoding), with the speech node's timeout.
- command: any program, from a template such as `mytts --out {wav} --voice {voice} {text}`.
  The template is split like a shell line and each placeholder is replaced inside its
  argument (no shell runs, so text cannot inject commands): {text}, {text_file} (a file
  holding the text), {wav} (where the program must write a WAV/FLAC), {voice}, {language}.
  A program that fails, writes no audio or runs longer than the timeout is an error that
  says so (and a hung one is killed with its process group).

Every engine: synthesize(text, voice, language, stop) -> (samples (n,) float32, rate [Hz]);
raises TtsError with a message saying what to do, or TtsStoppedError when `stop` (a
threading.Event) was set while it ran.
"""

import contextlib
import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

import numpy as np

ENGINES = ('espeak', 'festival', 'command')
PLACEHOLDERS = ('{text}', '{text_file}', '{wav}', '{voice}', '{language}')
POLL = 0.05  # [s] how often a running command is checked for a stop


class TtsError(RuntimeError):
    """The text could not be synthesised; the message says why and what to do."""


class TtsStoppedError(RuntimeError):
    """Synthesis was abandoned because the goal stopped."""


class EspeakEngine:
    name = 'espeak'

    def __init__(self, rate_wpm=175):
        from lip_policy.espeak import EspeakError, Speaker

        self.rate_wpm = rate_wpm
        self._error = EspeakError
        try:
            self.speaker = Speaker()
        except EspeakError as error:
            raise TtsError(f'espeak-ng cannot start: {error}') from error

    def synthesize(self, text, voice, language='', stop=None):
        try:
            utterance = self.speaker.say(text, voice=voice or language or 'en',
                                         rate=self.rate_wpm)
        except self._error as error:
            raise TtsError(str(error)) from error
        return utterance.audio.astype(np.float32), utterance.sample_rate


class FestivalEngine:
    name = 'festival'

    def __init__(self, timeout):
        from lip_policy import festival

        self.festival, self.timeout = festival, timeout
        try:
            festival.festival_binary()
        except festival.FestivalError as error:
            raise TtsError(f'engine festival: {error}; or set engine to espeak') from error

    def synthesize(self, text, voice, language='', stop=None):
        try:
            self.festival.check_voice(voice)
            utterance = self.festival.say(text, voice, timeout=self.timeout)
        except self.festival.FestivalError as error:
            raise TtsError(f'festival: {error}') from error
        return utterance.audio.astype(np.float32), utterance.sample_rate


class CommandEngine:
    """A TTS program run once per sentence from a command template (see the module)."""

    def __init__(self, template, timeout, name='command'):
        self.name, self.timeout = name, timeout
        try:
            self.argv = shlex.split(template)
        except ValueError as error:
            raise TtsError(f'tts_command {template!r} cannot be split: {error}') from error
        if not self.argv:
            raise TtsError('tts_command is empty: give a template such as '
                           '"mytts --out {wav} --voice {voice} {text}"')
        if not any('{wav}' in arg for arg in self.argv):
            raise TtsError(f'tts_command {template!r} has no {{wav}}: the program must write '
                           'its audio to the file named by {wav}')
        if shutil.which(self.argv[0]) is None:
            raise TtsError(f'TTS program {self.argv[0]!r} of tts_command is not found (not on '
                           'PATH and not a file); install it or fix tts_command')

    def synthesize(self, text, voice, language='', stop=None):
        with tempfile.TemporaryDirectory(prefix='face_speech_') as folder:
            wav = pathlib.Path(folder) / 'speech.wav'
            text_file = pathlib.Path(folder) / 'text.txt'
            text_file.write_text(text + '\n', encoding='utf-8')
            values = {'{text}': text, '{text_file}': str(text_file), '{wav}': str(wav),
                      '{voice}': voice, '{language}': language}
            args = [_fill(arg, values) for arg in self.argv]
            errors = self._run(args, stop)
            if not wav.is_file() or wav.stat().st_size == 0:
                raise TtsError(f'{self.name} ({self.argv[0]}) exited without writing audio '
                               f'to {{wav}}{_said(errors)}')
            from lip_policy.audio_clip import AudioClipError, load_audio_file

            try:
                clip = load_audio_file(wav)
            except AudioClipError as error:
                raise TtsError(f'{self.name} wrote audio that cannot be read: {error}') \
                    from error
        return clip.samples.mean(axis=1).astype(np.float32), clip.sample_rate

    def _run(self, args, stop):
        """Run args to the end -> its stderr; TtsError when it fails or outlasts timeout."""
        try:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       start_new_session=True, text=True, errors='replace')
        except OSError as error:
            raise TtsError(f'{self.name}: cannot start {args[0]}: {error}') from error
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                _, errors = process.communicate(timeout=POLL)
                break
            except subprocess.TimeoutExpired:
                if stop is not None and stop.is_set():
                    _kill(process)
                    raise TtsStoppedError('synthesis abandoned: the goal stopped') from None
                if time.monotonic() > deadline:
                    _kill(process)
                    raise TtsError(f'{self.name} ({args[0]}) did not finish within '
                                   f'{self.timeout:g} s and was killed; check the program, '
                                   'or raise tts_timeout') from None
        if process.returncode != 0:
            raise TtsError(f'{self.name} ({args[0]}) failed with exit status '
                           f'{process.returncode}{_said(errors)}')
        return errors


def _fill(arg, values):
    for key, value in values.items():
        arg = arg.replace(key, value)
    return arg


def _last_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ''


def _said(errors):
    line = _last_line(errors)
    return f': {line}' if line else ''


def _kill(process):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def make_engine(name, tts_command='', tts_timeout=10.0, rate_wpm=175):
    """The engine called `name` (ENGINES); TtsError when it cannot run here."""
    if name == 'espeak':
        return EspeakEngine(rate_wpm)
    if name == 'festival':
        return FestivalEngine(tts_timeout)
    if name == 'command':
        return CommandEngine(tts_command, tts_timeout)
    raise TtsError(f'engine {name!r} is not one of {", ".join(ENGINES)}')
