"""TTS engines: the command template engine (ok, failing, hanging, silent), festival, espeak."""

import pathlib
import shutil
import sys
import threading
import time

import pytest

from face_speech.tts import CommandEngine, TtsError, TtsStoppedError, make_engine

FAKE = pathlib.Path(__file__).with_name('fake_tts.py')
TEMPLATE = f'{sys.executable} {FAKE} --out {{wav}} --voice {{voice}} {{text}}'


def test_a_command_template_speaks_and_text_is_one_argument_never_a_shell():
    engine = make_engine('command', TEMPLATE, tts_timeout=20.0)
    samples, rate = engine.synthesize('two words; echo injected', 'en')
    assert rate == 16000 and len(samples) == int(0.3 * 16000 * 4)


def test_a_failing_command_says_its_exit_status_and_message():
    engine = CommandEngine(TEMPLATE, timeout=20.0)
    with pytest.raises(TtsError, match='exit status 3: fake_tts: no such voice'):
        engine.synthesize('please fail', 'en')


def test_a_hanging_command_is_killed_at_the_timeout():
    engine = CommandEngine(TEMPLATE, timeout=1.0)
    began = time.monotonic()
    with pytest.raises(TtsError, match='did not finish within 1 s'):
        engine.synthesize('hang on', 'en')
    assert time.monotonic() - began < 5.0


def test_a_running_command_is_abandoned_when_the_goal_stops():
    engine = CommandEngine(TEMPLATE, timeout=30.0)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    began = time.monotonic()
    with pytest.raises(TtsStoppedError):
        engine.synthesize('hang on', 'en', stop=stop)
    assert time.monotonic() - began < 3.0


def test_a_command_that_writes_nothing_is_an_error():
    with pytest.raises(TtsError, match='without writing audio'):
        CommandEngine(TEMPLATE, timeout=20.0).synthesize('silent', 'en')


@pytest.mark.parametrize('template, message', [
    ('', 'empty'), ('mytts {text}', 'no {wav}'),
    ('no_such_tts_program_here --out {wav}', 'not found'), ('mytts "unclosed', 'cannot be split')])
def test_bad_templates_are_refused_with_what_to_do(template, message):
    with pytest.raises(TtsError, match=message):
        make_engine('command', template)


def test_festival_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setenv('PATH', '/nonexistent')
    with pytest.raises(TtsError, match='festival is not installed.*set engine to espeak'):
        make_engine('festival')


@pytest.mark.skipif(shutil.which('festival') is None, reason='festival is not installed')
def test_festival_speaks_with_the_named_voice_and_refuses_an_unknown_one():
    from lip_policy import festival

    engine = make_engine('festival', tts_timeout=30.0)
    with pytest.raises(TtsError, match='festival: .*no_such_voice'):
        engine.synthesize('Hello.', 'no_such_voice')
    voices = [v for v in festival.VOICES.values()
              if v.phone_set and (festival.VOICE_ROOT / v.directory).is_dir()]
    if not voices:
        pytest.skip('none of the festival voices is installed')
    samples, rate = engine.synthesize('Hello there.', voices[0].name)
    assert rate > 0 and len(samples) > rate * 0.3


def test_espeak_speaks_and_refuses_an_unknown_voice():
    engine = make_engine('espeak')
    samples, rate = engine.synthesize('Hello there.', 'en')
    assert rate == 22050 and len(samples) > 0.3 * rate
    with pytest.raises(TtsError, match='no voice'):
        engine.synthesize('Hello.', 'xx-nonexistent')
