"""Audio to play to the face: loaded from a file or spoken by espeak-ng, cut into chunks.

The audio player node streams a clip onto /audio the way a speech stack would; this
module holds everything about it that is not ROS (no rclpy import).
"""

import dataclasses
import pathlib

import numpy as np


class AudioClipError(ValueError):
    """The audio cannot be played: missing, unreadable, empty or not finite."""


@dataclasses.dataclass
class AudioClip:
    samples: np.ndarray   # (frames, channels) float32, full scale -1..1
    sample_rate: int      # [Hz]

    @property
    def duration(self):
        """Length [s]."""
        return self.samples.shape[0] / self.sample_rate

    @property
    def channels(self):
        return self.samples.shape[1]


def _checked(samples, sample_rate, source):
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.shape[0] == 0:
        raise AudioClipError(f'{source} holds no audio samples; give a clip with sound in it')
    if not np.isfinite(samples).all():
        raise AudioClipError(f'{source} contains NaN or infinite samples; re-export it')
    if sample_rate <= 0:
        raise AudioClipError(f'{source} has sample rate {sample_rate} Hz')
    return AudioClip(np.ascontiguousarray(samples), int(sample_rate))


def load_audio_file(path):
    """A WAV, FLAC or OGG file as an AudioClip (any rate, any channel count)."""
    import soundfile

    path = pathlib.Path(path)
    try:
        exists = path.is_file()
    except (OSError, ValueError) as exc:   # a name too long, a NUL byte in it
        raise AudioClipError(f'audio file name {str(path)[:80]!r} is unusable ({exc}); pass '
                             'the path of a WAV or FLAC file') from exc
    if not exists:
        raise AudioClipError(f'audio file {path} does not exist; pass a WAV or FLAC file')
    try:
        samples, sample_rate = soundfile.read(str(path), dtype='float32', always_2d=True)
    except (RuntimeError, OSError, soundfile.LibsndfileError) as exc:
        raise AudioClipError(f'cannot read {path} as audio ({exc}); convert it to WAV or '
                             'FLAC') from exc
    return _checked(samples, sample_rate, str(path))


def speak(text, voice='en', rate=175):
    """text spoken by espeak-ng as an AudioClip (mono, espeak's native 22050 Hz)."""
    from lip_policy.espeak import Speaker

    utterance = Speaker().say(text, voice=voice, rate=rate)
    return _checked(utterance.audio, utterance.sample_rate, f'espeak-ng text {text!r}')


def chunk_frames(sample_rate, chunk_duration):
    """Frames per chunk for a chunk duration [s] (at least one)."""
    return max(1, int(round(sample_rate * chunk_duration)))


def split_into_chunks(clip, chunk_duration):
    """The clip as consecutive (first_frame, samples (frames, channels)) chunks.

    The last chunk may be shorter; together the chunks hold every sample exactly once.
    """
    size = chunk_frames(clip.sample_rate, chunk_duration)
    return [(start, clip.samples[start:start + size])
            for start in range(0, clip.samples.shape[0], size)]
