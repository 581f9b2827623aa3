"""One utterance played on the output: pieces synthesised ahead, written block by block,
each block handed on (to /audio) with the time it leaves the speaker. No rclpy.

A SpeechJob plays its pieces (sentences, or one clip) in order. A synthesis thread makes
the next piece while the current one plays (it stays at most two pieces ahead), so only
the first sentence's synthesis delays the voice. Before the first block, when the output
is idle, `lead_in` seconds of silence are written: the voice then plays that long after
its first block is handed on, which is the look-ahead the lips need (lip_policy_node
needs about 0.17 s: the model hears 60 ms ahead, the pose smoothing 20 ms, the servos lag
45 ms, plus a 20 ms chunk and a 10 ms hop). The lead-in is not handed on: it is not speech.

stop() (barge-in, pre-emption) stops the output at once and hands nothing more on; it is
safe from any thread. The job's outcome says what was played, on the output's clock.
"""

import dataclasses
import math
import queue
import threading

import numpy as np

# At import, not at the first resample: scipy.signal takes 1.7 s to import on this machine,
# which a node's first goal at another rate (a 44.1 kHz file, a 16 kHz TTS) would wait for.
from scipy.signal import resample_poly

from face_speech.tts import TtsError, TtsStoppedError

WAIT_STEP = 0.02  # [s] longest wait between progress reports and stop checks


@dataclasses.dataclass
class Progress:
    seconds_played: float  # [s] of this job's sound played so far
    seconds_ready: float  # [s] synthesised so far
    pieces_done: int  # pieces played to the end
    pieces_total: int
    current: int  # index of the piece playing now, -1 for none


@dataclasses.dataclass
class Outcome:
    completed: bool  # every piece played to the end
    stop_reason: str  # '' unless stopped early (cancel, pre-emption)
    error: str  # '' unless synthesis failed
    pieces_played: int
    seconds_played: float  # [s]
    stop_latency: float  # [s] from stop() to the sound stopping (output clock); NaN if none


def resample(samples, rate, target):
    """Mono samples at rate [Hz] -> at target [Hz] (polyphase, exact ratio), clipped to
    full scale [-1, 1]: what a DAC can play, so what /audio says was played."""
    samples = np.asarray(samples, np.float32)
    if rate != target and len(samples):
        g = math.gcd(int(rate), int(target))
        samples = resample_poly(samples, target // g, rate // g).astype(np.float32)
    return np.clip(samples, -1.0, 1.0)


class SpeechJob:
    """labels: one per piece (for progress and the result); produce(index, stop_event) ->
    mono float32 samples at output.sample_rate (TtsError on failure); publish(stamp,
    samples): hand a block on, stamped with when it leaves the speaker [s]."""

    def __init__(self, labels, produce, output, publish, chunk_duration=0.02, lead_in=0.2):
        self.labels = list(labels)
        self.produce, self.output, self.publish = produce, output, publish
        self.block = max(1, round(output.sample_rate * chunk_duration))
        self.lead_in = lead_in
        self._stop = threading.Event()
        self._lock = threading.Lock()  # orders publishing against stop()
        self._ready = queue.Queue(maxsize=1)
        self.stop_reason = ''
        self.stop_requested = self.stopped_at = math.nan
        self.error = ''
        self.start = math.nan  # [s] when the first sample of the voice plays
        self.written_end = math.nan  # [s] when the last written sample plays
        self.ends = []  # [s] when each written piece ends
        self.seconds_ready = 0.0

    # --- control, from any thread -----------------------------------------------------
    def stop(self, reason):
        """Stop now: the output drops what it has not played. -> [s] when the sound
        stopped (output clock), or None when this job already stopped."""
        with self._lock:
            if self._stop.is_set():
                return None
            self.stop_reason = reason
            self.stop_requested = self.output.now()
            self._stop.set()
            self.stopped_at = self.output.stop()
        return self.stopped_at

    @property
    def stopped(self):
        return self._stop.is_set()

    def progress(self):
        end = self._played_until()
        done = sum(1 for e in self.ends if e <= end + 1e-6)
        played = 0.0 if math.isnan(self.start) else max(0.0, end - self.start)
        playing = not self.stopped and not math.isnan(self.start) and done < len(self.labels)
        return Progress(played, self.seconds_ready, done, len(self.labels),
                        done if playing else -1)

    def _played_until(self):
        if math.isnan(self.written_end):
            return -math.inf
        # once stopped: what will have played when the sound stops (within one period)
        until = self.stopped_at if self.stopped else self.output.now()
        return min(until, self.written_end)

    # --- the work, in the caller's thread --------------------------------------------
    def run(self, report=lambda: None):
        """Play every piece (or until stop()); report() is called every block and while
        waiting. -> Outcome."""
        synthesis = threading.Thread(target=self._synthesise, name='face_speech_tts',
                                     daemon=True)
        synthesis.start()
        first = True
        for _ in self.labels:
            audio = self._next_piece(report)
            if audio is None:
                break
            if first and self.lead_in > 0 and self.output.end_time() <= self.output.now():
                self.output.write(np.zeros(round(self.lead_in * self.output.sample_rate),
                                           np.float32), continuous=False)
            for at in range(0, len(audio), self.block):
                if not self._play(audio[at:at + self.block], continuous=not first):
                    break
                first = False
                report()
            if self.stopped:
                break
            self.ends.append(self.written_end)
        while not self.stopped and not math.isnan(self.written_end) and \
                self.output.now() < self.written_end:
            self._stop.wait(min(WAIT_STEP, self.written_end - self.output.now()))
            report()
        report()
        return self._outcome()

    def _play(self, block, continuous):
        stamp = self.output.write(block, continuous)
        with self._lock:
            if stamp is None or self.stopped:
                return False
            if math.isnan(self.start):
                self.start = stamp
            self.written_end = stamp + len(block) / self.output.sample_rate
            self.publish(stamp, block)
        return True

    def _next_piece(self, report):
        while not self.stopped:
            try:
                kind, value = self._ready.get(timeout=WAIT_STEP)
            except queue.Empty:
                report()
                continue
            if kind == 'error':
                self.error = value
                return None
            return value
        return None

    def _synthesise(self):
        for index in range(len(self.labels)):
            try:
                item = ('audio', self.produce(index, self._stop))
                self.seconds_ready += len(item[1]) / self.output.sample_rate
            except TtsStoppedError:
                return
            except TtsError as error:
                item = ('error', f'piece {index + 1} of {len(self.labels)} '
                        f'({self.labels[index][:60]!r}): {error}')
            except Exception as error:  # noqa: BLE001 - reported in the result, not lost
                item = ('error', f'piece {index + 1}: {type(error).__name__}: {error}')
            while not self.stopped:
                try:
                    self._ready.put(item, timeout=WAIT_STEP)
                    break
                except queue.Full:
                    continue
            if self.stopped or item[0] == 'error':
                return

    def _outcome(self):
        end = self._played_until()
        done = sum(1 for e in self.ends if e <= end + 1e-6)
        completed = not self.error and done == len(self.labels)
        played = 0.0 if math.isnan(self.start) else max(0.0, end - self.start)
        latency = (max(0.0, self.stopped_at - self.stop_requested)
                   if self.stopped and not completed else math.nan)
        return Outcome(completed, self.stop_reason if not completed else '', self.error, done,
                       played, latency)
