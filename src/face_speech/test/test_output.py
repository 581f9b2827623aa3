"""The null output's clock: a virtual DAC consuming samples in real time."""

import threading
import time

import numpy as np
import pytest

from face_speech.output import NullOutput, OutputError, open_output

RATE = 1000  # [Hz] one sample per millisecond keeps the arithmetic readable


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += max(seconds, 0.0)


@pytest.fixture
def dac():
    clock = FakeClock()
    output = NullOutput(RATE, buffer=0.1, period=0.005, clock=clock, sleep=clock.sleep)
    return output, clock


def block(ms):
    return np.zeros(ms, np.float32)


def test_blocks_are_stamped_back_to_back_and_buffer_at_most_buffer_seconds(dac):
    output, clock = dac
    start = output.write(block(20), continuous=False)
    assert start == pytest.approx(output.now())
    stamps = [start] + [output.write(block(20)) for _ in range(20)]
    assert np.allclose(np.diff(stamps), 0.02, atol=1e-6)  # epoch seconds: 0.2 us steps
    # writing 21 blocks of 20 ms took real (fake) time: never more than 100 ms queued
    assert stamps[-1] + 0.02 - output.now() <= 0.1 + 1e-6
    assert output.end_time() == pytest.approx(stamps[-1] + 0.02)
    assert output.underruns == 0


def test_stop_takes_effect_at_the_end_of_the_period_playing(dac):
    output, clock = dac
    output.write(block(100), continuous=False)
    clock.t += 0.0123
    requested = output.now()
    stopped = output.stop()
    assert 0 <= stopped - requested <= 0.005 + 1e-9
    assert stopped - requested == pytest.approx(0.015 - 0.0123, abs=1e-6)
    assert output.end_time() == pytest.approx(output.now())  # nothing left to play after it
    clock.t += 0.01
    assert output.write(block(10), continuous=False) == pytest.approx(output.now())


def test_a_continuous_write_after_the_dac_ran_dry_is_an_underrun(dac):
    output, clock = dac
    output.write(block(20), continuous=False)
    clock.t += 0.05  # the feeder was 30 ms late
    late = output.write(block(20))
    assert output.underruns == 1 and late == pytest.approx(output.now())
    clock.t += 1.0
    output.write(block(20), continuous=False)  # a new utterance after a pause is not one
    assert output.underruns == 1


def test_speaker_latency_is_added_to_every_time():
    clock = FakeClock()
    output = NullOutput(RATE, buffer=0.1, speaker_latency=0.03, clock=clock, sleep=clock.sleep)
    assert output.write(block(10), continuous=False) == pytest.approx(output.now() + 0.03)


def test_a_stop_releases_a_writer_waiting_for_room():
    output = NullOutput(RATE, buffer=0.05)
    output.write(block(50), continuous=False)
    results = []
    writer = threading.Thread(target=lambda: results.append(output.write(block(500))))
    writer.start()
    time.sleep(0.02)
    output.stop()
    writer.join(timeout=2.0)
    assert not writer.is_alive() and results == [None]


def test_real_time_consumption_on_the_monotonic_clock():
    output = NullOutput(RATE, buffer=0.05)
    began = time.monotonic()
    for _ in range(10):
        output.write(block(20))
    # 200 ms of audio with 50 ms of buffer: the last write waited for about 150 ms of play
    assert time.monotonic() - began >= 0.13


def test_open_output_auto_falls_back_to_null_and_says_why():
    output, line = open_output('auto', 22050, 0.15, 0.0)
    assert line.startswith('output: ')
    if output.kind == 'null':
        assert 'null' in line
    output.close()
    assert open_output('null', 22050, 0.15, 0.0)[0].kind == 'null'
    with pytest.raises(OutputError, match='one of'):
        open_output('alsa', 22050, 0.15, 0.0)


def test_portaudio_requested_without_a_device_is_a_clear_error():
    # This machine has no sound card: PortAudio finds no output device (or, without
    # libportaudio2, does not load); either way the node must say what to do.
    with pytest.raises(OutputError, match='libportaudio2 and check the sound device'):
        open_output('portaudio', 22050, 0.15, 0.0, device='no such device')


# A software sound device: ALSA's null PCM, declared in the .asoundrc of a private HOME
# (ALSA reads it when PortAudio starts, so it runs in its own process). It is the only
# sound device here; it takes samples as fast as they come rather than at the sample rate
# (its DAC times do not advance with the samples), so this checks the PortAudio path
# (stream, callback, stop, playing again), not its timing.
ASOUNDRC = """pcm.face_null {
    type null
    hint { show on description "null sink for tests" }
}
"""
PLAY_ON_NULL_SINK = """
import json, numpy as np
from face_speech.output import open_output
output, line = open_output('portaudio', 22050, 0.2, 0.05, device='face_null')
block = np.full(441, 0.1, np.float32)   # 20 ms
stamps = [output.write(block, continuous=k > 0) for k in range(50)]
import time
deadline = time.monotonic() + 10
while len(output._queue) and time.monotonic() < deadline:   # the device takes it all
    time.sleep(0.01)
handed = output._handed
stop = output.stop()
after_stop = output.write(block, continuous=False)
output.close()
print(json.dumps({'line': line, 'kind': output.kind, 'stamps': stamps, 'stop': stop,
                  'after_stop': after_stop, 'handed': handed}))
"""


def test_portaudio_output_plays_on_a_software_sound_device(tmp_path):
    import json
    import subprocess
    import sys

    try:
        import sounddevice  # noqa: F401
    except OSError:
        pytest.fail('libportaudio2 is missing: make setup installs it (as root), or '
                    'apt-get install --no-install-recommends libportaudio2')
    (tmp_path / '.asoundrc').write_text(ASOUNDRC)
    import os

    played = subprocess.run([sys.executable, '-c', PLAY_ON_NULL_SINK], capture_output=True,
                            text=True, timeout=60, env={**os.environ, 'HOME': str(tmp_path)})
    assert played.returncode == 0, played.stderr[-3000:]
    result = json.loads(played.stdout.strip().splitlines()[-1])
    assert result['kind'] == 'portaudio'
    assert result['line'].startswith('output: portaudio device face_null at 22050 Hz')
    stamps = np.array(result['stamps'], float)
    assert np.isfinite(stamps).all() and np.isfinite(result['stop'])
    # the callback handed everything written to the device (and silence after it)
    assert result['handed'] >= 50 * 441
    assert result['after_stop'] is not None   # the output plays again after a stop
