"""The lip corpus on disk: clips of 16 kHz mono audio with lip landmarks at 100 Hz.

Layout of a corpus directory (the same for synthetic and video corpora):

    manifest.jsonl         one JSON object per clip, appended as each clip is finished
    clips/<id>.wav         16 kHz mono 16-bit PCM audio
    clips/<id>.npz         lips (frames, 40, 3) float32, face_subset_v1 lip points in the
                           normalised face frame, frame k at k * 10 ms; valid (frames,) bool,
                           False where no face was seen (video) - those frames carry NaN
    clips/<id>.phonemes.json   [[ipa, start_s], ...] (synthetic clips only)

Manifest fields: id, kind ('speech' | 'sung' | 'video'), language, voice, speaker (the unit
of the train/validation split), duration [s], frames, text, source.
"""

import dataclasses
import json
import os
import pathlib
import wave

import numpy as np

# Every corpus clip's audio is at SAMPLE_RATE, its landmarks at FRAME_RATE (one per HOP).
from face_common.frames import SAMPLE_RATE

MANIFEST = 'manifest.jsonl'


class CorpusError(ValueError):
    """A corpus or clip is missing, corrupt or empty; the message says which and what to do."""


@dataclasses.dataclass
class Clip:
    """One clip in memory. lips: (frames, 40, 3); valid: (frames,); audio: (samples,) float32."""

    info: dict
    audio: np.ndarray
    lips: np.ndarray
    valid: np.ndarray
    phonemes: list | None = None  # [(ipa, start [s])] when the clip is synthetic

    @property
    def id(self):
        return self.info['id']


def write_wav(path, audio, sample_rate=SAMPLE_RATE):
    """Write float audio (-1..1) as mono 16-bit PCM."""
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype('<i2')
    with wave.open(str(path), 'wb') as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())


def read_wav(path):
    """Mono 16-bit PCM WAV -> (float32 samples, rate); CorpusError if missing or corrupt."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CorpusError(f'audio file {path} is missing; rebuild the clip or drop it from '
                          'the manifest')
    try:
        with wave.open(str(path), 'rb') as source:
            if source.getsampwidth() != 2 or source.getnchannels() != 1:
                raise CorpusError(f'{path} is not mono 16-bit PCM; convert it with '
                                  'lip-corpus video or re-synthesise it')
            rate = source.getframerate()
            data = source.readframes(source.getnframes())
    except (wave.Error, EOFError) as error:
        raise CorpusError(f'audio file {path} is corrupt ({error}); rebuild the clip') from error
    audio = np.frombuffer(data, dtype='<i2').astype(np.float32) / 32767.0
    return audio, rate


class CorpusWriter:
    """Adds clips to a corpus directory; the manifest line is written last, so an
    interrupted run leaves every listed clip complete."""

    def __init__(self, out_dir):
        self.root = pathlib.Path(out_dir)
        (self.root / 'clips').mkdir(parents=True, exist_ok=True)
        self.manifest = self.root / MANIFEST
        self._drop_torn_line()

    def _drop_torn_line(self):
        # A run killed while appending leaves part of a line; cut it before appending more.
        if not self.manifest.is_file():
            return
        data = self.manifest.read_bytes()
        if data and not data.endswith(b'\n'):
            with self.manifest.open('r+b') as f:
                f.truncate(data.rfind(b'\n') + 1)
                os.fsync(f.fileno())

    def existing_ids(self):
        return {entry['id'] for entry in read_manifest(self.root, missing_ok=True)}

    def add(self, info, audio, lips, valid=None, phonemes=None):
        """Store one clip (audio at 16 kHz) and append its manifest entry."""
        lips = np.asarray(lips, dtype=np.float32)
        valid = np.ones(len(lips), bool) if valid is None else np.asarray(valid, bool)
        if len(audio) == 0 or len(lips) == 0:
            raise CorpusError(f'clip {info["id"]} is empty; nothing was written')
        clip_dir = self.root / 'clips'
        write_wav(clip_dir / f'{info["id"]}.wav', audio)
        np.savez_compressed(clip_dir / f'{info["id"]}.npz', lips=lips, valid=valid)
        if phonemes is not None:
            (clip_dir / f'{info["id"]}.phonemes.json').write_text(
                json.dumps([[ipa, round(float(start), 5)] for ipa, start in phonemes],
                           ensure_ascii=False))
        entry = dict(info, duration=round(len(audio) / SAMPLE_RATE, 4), frames=len(lips))
        # The clip's files are whole before its line is added, and the line is on disk
        # before the next clip starts: a crash loses at most the clip being written (its
        # torn line is skipped on reading, and a resumed build makes the clip again).
        with self.manifest.open('a', encoding='utf-8') as out:
            out.write(json.dumps(entry, ensure_ascii=False) + '\n')
            out.flush()
            os.fsync(out.fileno())
        return entry


def read_manifest(corpus_dir, missing_ok=False):
    """The manifest entries of a corpus directory, in order."""
    path = pathlib.Path(corpus_dir) / MANIFEST
    if not path.is_file():
        if missing_ok:
            return []
        raise CorpusError(f'{corpus_dir} has no {MANIFEST}: build it with `lip-corpus synth` '
                          'or `lip-corpus video`')
    entries = []
    text = path.read_text(encoding='utf-8', errors='replace')
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines) and not text.endswith('\n'):
                break   # the line a crash tore while it was appended: that clip is not in
            raise CorpusError(f'{path} line {number} is not JSON ({error}); fix or delete '
                              'that line') from error
        if 'id' not in entry:
            raise CorpusError(f'{path} line {number} has no clip id')
        entries.append(entry)
    return entries


def load_clip(corpus_dir, entry):
    """Read one clip of a corpus; CorpusError names the file when anything is wrong."""
    clip_dir = pathlib.Path(corpus_dir) / 'clips'
    audio, rate = read_wav(clip_dir / f'{entry["id"]}.wav')
    if rate != SAMPLE_RATE:
        raise CorpusError(f'clip {entry["id"]}: audio is {rate} Hz, the corpus needs '
                          f'{SAMPLE_RATE} Hz')
    marks = clip_dir / f'{entry["id"]}.npz'
    if not marks.is_file():
        raise CorpusError(f'landmark file {marks} is missing; rebuild the clip')
    try:
        with np.load(marks, allow_pickle=False) as data:
            lips, valid = data['lips'], data['valid']
    except (OSError, ValueError, KeyError) as error:
        raise CorpusError(f'landmark file {marks} is corrupt ({error}); rebuild the '
                          'clip') from error
    if len(audio) == 0 or len(lips) == 0:
        raise CorpusError(f'clip {entry["id"]} is empty (no audio or no frames); drop it')
    if lips.ndim != 3 or lips.shape[1:] != (40, 3) or len(valid) != len(lips):
        raise CorpusError(f'{marks}: lips must be (frames, 40, 3) with a matching valid '
                          f'mask, got {lips.shape} and {valid.shape}')
    phoneme_file = clip_dir / f'{entry["id"]}.phonemes.json'
    phonemes = None
    if phoneme_file.is_file():
        phonemes = [(ipa, float(start)) for ipa, start in json.loads(phoneme_file.read_text())]
    return Clip(entry, audio, lips.astype(np.float64), valid.astype(bool), phonemes)


def load_corpus(corpus_dir, languages=None, exclude_languages=None, voices=None,
                exclude_voices=None):
    """All clips of a corpus (optionally only / not some languages or voices), as Clips."""
    entries = read_manifest(corpus_dir)
    for field, only, excluded in (('language', languages, exclude_languages),
                                  ('voice', voices, exclude_voices)):
        if only:
            entries = [e for e in entries if e.get(field) in set(only)]
        if excluded:
            entries = [e for e in entries if e.get(field) not in set(excluded)]
    if not entries:
        raise CorpusError(f'{corpus_dir}: no clips left (languages={languages}, '
                          f'excluded={exclude_languages}, voices={voices}, excluded voices='
                          f'{exclude_voices}); check the language codes and voice names')
    return [load_clip(corpus_dir, e) for e in entries]
