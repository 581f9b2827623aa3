"""Causal log-mel features: one frame per 10 ms hop of 16 kHz audio.

Frame k summarises the 25 ms window that ENDS at sample (k + 1) * HOP (zeros before the
clip start), so it is complete as soon as audio up to (k + 1) * 10 ms has arrived and a
stream can compute exactly the frames a whole clip would give. Mel filters come from
librosa; the STFT is done here so that whole-clip and streaming framing are one code.

Level (FeatureConfig.level). 'absolute' (the first models): log of the mel power, so a
louder voice moves every feature. 'peak': the log-mel relative to a causal running peak of
the loudest band (it jumps up at once and falls PEAK_DECAY per frame, never below
LEVEL_MIN), with the floor FLOOR_RELATIVE below that peak. A gain multiplies the power and
the peak alike, so the features do not depend on the absolute level (above LEVEL_MIN), and
the peak is a per-frame recursion that a stream carries across pushes: streamed frames
equal whole-clip frames.
"""

import dataclasses

import numpy as np

from face_common.frames import HOP, SAMPLE_RATE

WINDOW = 400  # [samples] 25 ms
N_FFT = 512
FLOOR = 1e-6  # mel power floor before the log (silence), level 'absolute'
FLOOR_RELATIVE = 1e-6  # level 'peak': the floor, 60 dB below the running peak
PEAK_DECAY = 0.0138  # [ln power per frame] 6 dB/s fall of the running peak
LEVEL_MIN = -10.0  # [ln power] the quietest peak tracked (about 50 dB below full scale)
LEVELS = ('absolute', 'peak')


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    n_mels: int = 40
    fmin: float = 50.0  # [Hz]
    fmax: float = 8000.0  # [Hz]
    level: str = 'absolute'  # 'absolute' or 'peak' (see the module docstring)


class LogMel:
    """log-mel of audio: whole clips (`__call__`) or streamed (`stream()`)."""

    def __init__(self, config=FeatureConfig()):
        import librosa

        self.config = config
        self.filters = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=config.n_mels,
                                           fmin=config.fmin, fmax=config.fmax)  # (mels, bins)
        self.window = np.hanning(WINDOW + 2)[1:-1]

    def frames_of(self, padded, peak=LEVEL_MIN):
        """Audio that already carries WINDOW - HOP samples of history, and the running peak
        before it -> ((frames, mels) features, running peak after them)."""
        count = (len(padded) - (WINDOW - HOP)) // HOP
        if count <= 0:
            return np.zeros((0, self.config.n_mels), np.float32), peak
        starts = np.arange(count) * HOP
        windows = padded[starts[:, None] + np.arange(WINDOW)[None, :]] * self.window
        power = np.abs(np.fft.rfft(windows, n=N_FFT, axis=1)) ** 2  # (frames, bins)
        mel = power @ self.filters.T  # (frames, mels)
        if self.config.level == 'absolute':
            return np.log(mel + FLOOR).astype(np.float32), peak
        loudest = np.log(mel.max(axis=1) + 1e-30)  # (frames,)
        decay = PEAK_DECAY * np.arange(count)
        # peak[t] = max(peak before - decay (t + 1), max over s <= t of loudest[s] - decay (t - s))
        peaks = np.maximum(np.maximum.accumulate(loudest + decay) - decay,
                           peak - decay - PEAK_DECAY)
        peaks = np.maximum(peaks, LEVEL_MIN)
        features = np.log(mel * np.exp(-peaks)[:, None] + FLOOR_RELATIVE)
        return features.astype(np.float32), float(peaks[-1])

    def __call__(self, audio):
        """(samples,) float audio at 16 kHz -> (len // HOP, mels) features."""
        audio = np.asarray(audio, dtype=np.float64)
        return self.frames_of(np.concatenate([np.zeros(WINDOW - HOP), audio]))[0]

    def stream(self):
        return LogMelStream(self)


class LogMelStream:
    """Push audio chunks of any length; get the feature frames they complete."""

    def __init__(self, log_mel):
        self.log_mel = log_mel
        self.pending = np.zeros(WINDOW - HOP)  # history + samples not yet framed
        self.peak = LEVEL_MIN  # the running peak (level 'peak')

    def push(self, samples):
        self.pending = np.concatenate([self.pending, np.asarray(samples, np.float64)])
        frames, self.peak = self.log_mel.frames_of(self.pending, self.peak)
        self.pending = self.pending[len(frames) * HOP:]
        return frames
