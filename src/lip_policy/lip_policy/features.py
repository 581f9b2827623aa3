"""Causal log-mel features: one frame per 10 ms hop of 16 kHz audio.

Frame k summarises the 25 ms window that ENDS at sample (k + 1) * HOP (zeros before the
clip start), so it is complete as soon as audio up to (k + 1) * 10 ms has arrived and a
stream can compute exactly the frames a whole clip would give. Mel filters come from
librosa; the STFT is done here so that whole-clip and streaming framing are one code.
"""

import dataclasses

import numpy as np

SAMPLE_RATE = 16000  # [Hz]
HOP = 160  # [samples] 10 ms
WINDOW = 400  # [samples] 25 ms
N_FFT = 512
FLOOR = 1e-6  # mel power floor before the log (silence)


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    n_mels: int = 40
    fmin: float = 50.0  # [Hz]
    fmax: float = 8000.0  # [Hz]


class LogMel:
    """log-mel of audio: whole clips (`__call__`) or streamed (`stream()`)."""

    def __init__(self, config=FeatureConfig()):
        import librosa

        self.config = config
        self.filters = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=config.n_mels,
                                           fmin=config.fmin, fmax=config.fmax)  # (mels, bins)
        self.window = np.hanning(WINDOW + 2)[1:-1]

    def frames_of(self, padded):
        """Audio that already carries WINDOW - HOP samples of history -> (frames, mels)."""
        count = (len(padded) - (WINDOW - HOP)) // HOP
        if count <= 0:
            return np.zeros((0, self.config.n_mels), np.float32)
        starts = np.arange(count) * HOP
        windows = padded[starts[:, None] + np.arange(WINDOW)[None, :]] * self.window
        power = np.abs(np.fft.rfft(windows, n=N_FFT, axis=1)) ** 2  # (frames, bins)
        return np.log(power @ self.filters.T + FLOOR).astype(np.float32)

    def __call__(self, audio):
        """(samples,) float audio at 16 kHz -> (len // HOP, mels) features."""
        audio = np.asarray(audio, dtype=np.float64)
        return self.frames_of(np.concatenate([np.zeros(WINDOW - HOP), audio]))

    def stream(self):
        return LogMelStream(self)


class LogMelStream:
    """Push audio chunks of any length; get the feature frames they complete."""

    def __init__(self, log_mel):
        self.log_mel = log_mel
        self.pending = np.zeros(WINDOW - HOP)  # history + samples not yet framed

    def push(self, samples):
        self.pending = np.concatenate([self.pending, np.asarray(samples, np.float64)])
        frames = self.log_mel.frames_of(self.pending)
        self.pending = self.pending[len(frames) * HOP:]
        return frames
