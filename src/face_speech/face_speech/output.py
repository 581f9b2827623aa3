"""The speaker: where the face's voice is played, and the clock its /audio stamps come from.

Every output is a DAC consuming mono float32 samples at sample_rate in real time. write()
blocks until the output's buffer has room and returns the time the block's first sample
will leave the speaker; stop() throws away what has not been played (barge-in) and returns
when the sound stopped. Times are seconds on the system clock's timeline (what ROS stamps
use), plus the speaker_latency the caller measured (amplifier and speaker after the DAC).

- NullOutput: a virtual DAC with the same clock model, run from a monotonic clock. It is
  what runs where there is no sound device (this machine, CI) and what the tests measure.
- PortAudioOutput: sounddevice (PortAudio) on a real device.

open_output('auto' | 'portaudio' | 'null', ...) picks one and says why in one line.
"""

import math
import threading
import time

import numpy as np

OUTPUTS = ('auto', 'portaudio', 'null')


class OutputError(RuntimeError):
    """The requested output cannot be opened."""


class NullOutput:
    """A virtual DAC: samples are consumed in real time from a monotonic clock.

    It plays in periods of `period` seconds from the moment it starts (when written to while
    idle), so a stop takes effect at the end of the period being played, as a sound card's
    does. At most `buffer` seconds of written audio wait to be played: write() blocks until
    the block fits. A continuous write that finds the DAC run dry is an underrun (counted):
    the block plays from the moment it came, after a gap of silence.
    clock and sleep are injectable for tests (a fake clock and a sleep that advances it).
    """

    kind = 'null'

    def __init__(self, sample_rate, buffer=0.15, period=0.005, speaker_latency=0.0,
                 clock=time.monotonic, sleep=None):
        if sample_rate <= 0 or buffer <= 0 or period <= 0 or speaker_latency < 0:
            raise OutputError(f'null output: sample_rate {sample_rate}, buffer {buffer} s, '
                              f'period {period} s must be > 0, speaker_latency '
                              f'{speaker_latency} s >= 0')
        self.sample_rate = int(sample_rate)
        self.buffer, self.period, self.speaker_latency = buffer, period, speaker_latency
        self.clock = clock
        self._wake = threading.Event()
        self.sleep = sleep or self._wake.wait
        self.offset = time.time() - clock()  # monotonic -> system clock timeline
        self.underruns = 0
        self._lock = threading.Lock()
        self._start = None  # [clock s] when the DAC started its current run
        self._end = None  # [clock s] when the last written sample has been played
        self._generation = 0  # +1 per stop: writes waiting across a stop are dropped

    def now(self):
        """[s] the output clock (system timeline)."""
        return self.clock() + self.offset

    def end_time(self):
        """[s] when everything written so far has left the speaker (now when idle)."""
        with self._lock:
            t = self.clock()
            end = t if self._end is None else max(self._end, t)
        return end + self.offset + self.speaker_latency

    def write(self, samples, continuous=True):
        """Queue mono samples; -> [s] when the first leaves the speaker, or None when a stop
        came while waiting for room. continuous: the block should follow the one before
        without a gap (a gap is an underrun)."""
        duration = len(samples) / self.sample_rate
        generation = self._generation
        while True:
            with self._lock:
                if self._generation != generation:
                    return None
                t = self.clock()
                idle = self._end is None or self._end <= t
                wait = 0.0 if idle else self._end + duration - self.buffer - t
                if wait <= 0:
                    if idle:
                        self.underruns += bool(continuous and self._end is not None)
                        self._start = t
                        start = t
                    else:
                        start = self._end
                    self._end = start + duration
                    return start + self.offset + self.speaker_latency
            self._wake.clear()
            self.sleep(wait)

    def stop(self):
        """Drop what has not been played; -> [s] when the sound stops (end of the period
        being played)."""
        with self._lock:
            self._generation += 1
            t = self.clock()
            if self._end is None or self._end <= t:
                stopped = t if self._end is None else self._end
            else:
                periods = math.ceil((t - self._start) / self.period - 1e-9)
                stopped = min(self._start + periods * self.period, self._end)
                self._end = stopped
        self._wake.set()
        return stopped + self.offset + self.speaker_latency

    def close(self):
        self.stop()


class PortAudioOutput:
    """A sound device through sounddevice (PortAudio). This machine has no sound card: the
    tests run it on ALSA's null PCM (a software sink that takes samples faster than real
    time, so its timing is not checked here) and the NullOutput carries the timing tests.

    The stream's callback hands queued samples (or silence) to the device and notes where
    the buffer it filled will be played: time_info.outputBufferDacTime on the stream's
    clock (stream.time), mapped onto the system clock once at start. A block written now
    plays after everything queued before it, so its time is that DAC time plus the frames
    ahead of it. Underflows the device reports, and callbacks that ran dry in the middle of
    a stream, are underruns.
    """

    kind = 'portaudio'

    def __init__(self, sample_rate, buffer=0.15, speaker_latency=0.0, device=None):
        import sounddevice  # OSError when PortAudio is missing

        self.sample_rate = int(sample_rate)
        self.buffer, self.speaker_latency = buffer, speaker_latency
        self.underruns = 0
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._queue = np.zeros(0, np.float32)
        self._handed = 0  # frames given to the device so far (sound and silence)
        self._dac = None  # (frames handed before the last callback, its DAC time)
        self._flowing = False  # the queue held sound at the last callback
        self._continuous = False  # the last write should follow on without a gap
        self._generation = 0
        self.stream = sounddevice.OutputStream(
            samplerate=self.sample_rate, channels=1, dtype='float32', device=device,
            latency='low', callback=self._callback)
        self.stream.start()
        self.offset = time.time() - self.stream.time

    def _callback(self, outdata, frames, time_info, status):
        with self._lock:
            take = min(frames, len(self._queue))
            outdata[:take, 0] = self._queue[:take]
            outdata[take:, 0] = 0.0
            self._queue = self._queue[take:]
            self.underruns += bool(status.output_underflow) or \
                (self._flowing and take < frames and self._continuous)
            self._flowing = len(self._queue) > 0
            self._dac = (self._handed, time_info.outputBufferDacTime)
            self._handed += frames
            self._room.notify_all()

    def now(self):
        return self.stream.time + self.offset

    def _time_of(self, frame):
        if self._dac is None:
            return self.now() + self.stream.latency
        handed, dac = self._dac
        return dac + (frame - handed) / self.sample_rate + self.offset

    def end_time(self):
        with self._lock:
            end = self._time_of(self._handed + len(self._queue))
        return max(end, self.now()) + self.speaker_latency

    def write(self, samples, continuous=True):
        generation = self._generation
        with self._lock:
            while (len(self._queue) + len(samples)) / self.sample_rate > self.buffer:
                self._room.wait(0.05)
                if self._generation != generation:
                    return None
            start = self._time_of(self._handed + len(self._queue))
            self._queue = np.concatenate([self._queue, np.asarray(samples, np.float32)])
            self._continuous = continuous
        return start + self.speaker_latency

    def stop(self):
        with self._lock:
            self._generation += 1
            self._queue = np.zeros(0, np.float32)
            self._continuous = False
            self._room.notify_all()
            stopped = self._time_of(self._handed)  # the device plays what it was handed
        return stopped + self.speaker_latency

    def close(self):
        self.stop()
        self.stream.close()


def open_output(kind, sample_rate, buffer, speaker_latency, period=0.005, device=''):
    """(output, one line saying which output and why) for kind auto | portaudio | null.

    auto: PortAudio when sounddevice loads and a default output device exists, else null.
    """
    if kind not in OUTPUTS:
        raise OutputError(f'output {kind!r} is not one of {", ".join(OUTPUTS)}')
    reason = 'output: null (virtual DAC on the monotonic clock), as configured'
    if kind != 'null':
        try:
            import sounddevice

            sounddevice.query_devices(device or None, kind='output')
            output = PortAudioOutput(sample_rate, buffer, speaker_latency, device or None)
            return output, (f'output: portaudio device {device or "default"} at '
                            f'{sample_rate} Hz, buffer {buffer * 1000:.0f} ms, speaker '
                            f'latency {speaker_latency * 1000:.0f} ms')
        except Exception as error:  # noqa: BLE001 - OSError, PortAudioError, ValueError
            if kind == 'portaudio':
                raise OutputError(f'output portaudio cannot be opened ({error}); install '
                                  'libportaudio2 and check the sound device, or set output '
                                  'to null or auto') from error
            reason = (f'output: null (virtual DAC on the monotonic clock): no sound device '
                      f'through PortAudio ({error})')
    return NullOutput(sample_rate, buffer, period, speaker_latency), reason
