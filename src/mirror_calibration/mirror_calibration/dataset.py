"""The babbling dataset: crash-safe, append-only storage of (pose, joints, landmarks) samples.

A dataset is a directory:

    dataset.json       what the records hold (layout, actuator names and limits); written
                       once, atomically, when the directory is created
    chunk_00000.bin    fixed-size binary records, appended one at a time; every writer
    chunk_00001.bin    session starts a new chunk and a chunk holds at most CHUNK_SAMPLES

Every record ends with a CRC-32 of its bytes and is flushed and fsync'ed before the next
sample is taken, so a process killed at any moment loses at most the record it was writing:
a torn record at the end of a chunk fails its size or CRC check and is skipped on reading.
Existing chunks are never rewritten, so a resumed session cannot damage earlier samples.

Record fields (all per sample):
    index         position of the pose in its seeded space-filling sequence
    seed          seed of that sequence
    detected      the camera frame showed a face (landmarks are NaN otherwise)
    command_time  when the pose was reached and settled [s, ROS time]
    image_time    capture time of the camera frame the landmarks came from [s, ROS time]
    confidence    observer confidence [0..1]
    face_size_px  eye span in the image [px]
    commanded     (actuators,) commanded joint positions [rad], config order
    measured      (actuators,) measured joint positions at image_time [rad]
    landmarks     (points, 3) landmarks in the normalised face frame [eye spans]
"""

import json
import os
import pathlib
import zlib
from dataclasses import dataclass

import numpy as np

FORMAT = 'mirror_babbling_v1'
META_FILE = 'dataset.json'
CHUNK_SAMPLES = 1024
_MAGIC = 0x4D495252  # 'MIRR'


class DatasetError(RuntimeError):
    """The dataset directory is missing, unreadable or belongs to another face/layout."""


def record_dtype(actuator_count, point_count):
    return np.dtype([
        ('magic', '<u4'), ('index', '<u4'), ('seed', '<u4'), ('detected', 'u1'),
        ('command_time', '<f8'), ('image_time', '<f8'),
        ('confidence', '<f4'), ('face_size_px', '<f4'),
        ('commanded', '<f8', (actuator_count,)), ('measured', '<f8', (actuator_count,)),
        ('landmarks', '<f8', (point_count, 3)),
        ('crc', '<u4'),
    ])


@dataclass(frozen=True)
class DatasetMeta:
    layout: str
    actuator_names: tuple
    lower: tuple        # joint limits [rad], parallel to actuator_names
    upper: tuple
    neutral: tuple
    point_count: int

    def to_json(self):
        return {'format': FORMAT, 'layout': self.layout,
                'actuator_names': list(self.actuator_names), 'lower': list(self.lower),
                'upper': list(self.upper), 'neutral': list(self.neutral),
                'point_count': self.point_count}

    @classmethod
    def from_json(cls, data, where):
        if not isinstance(data, dict) or data.get('format') != FORMAT:
            raise DatasetError(f'{where} is not a {FORMAT} dataset description')
        try:
            return cls(str(data['layout']), tuple(data['actuator_names']),
                       tuple(map(float, data['lower'])), tuple(map(float, data['upper'])),
                       tuple(map(float, data['neutral'])), int(data['point_count']))
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f'{where} lacks or mangles {exc}; the dataset description is '
                               'damaged: start a new dataset directory') from exc

    @classmethod
    def from_face_config(cls, face_config, layout, point_count):
        acts = face_config.actuators
        return cls(layout, tuple(a.name for a in acts), tuple(a.min for a in acts),
                   tuple(a.max for a in acts), tuple(a.neutral for a in acts), point_count)

    @property
    def dtype(self):
        return record_dtype(len(self.actuator_names), self.point_count)


@dataclass
class BabblingData:
    """All intact samples of a dataset, as parallel arrays in the order they were written."""
    meta: DatasetMeta
    records: np.ndarray   # structured array of record_dtype
    damaged: int          # records skipped for a bad CRC or a torn end

    def __len__(self):
        return len(self.records)

    def __getattr__(self, field):
        if field in ('meta', 'records', 'damaged'):
            raise AttributeError(field)
        return self.records[field]


def _read_meta(directory):
    path = directory / META_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DatasetError(f'{directory} has no {META_FILE}; it is not a babbling dataset '
                           '(record one with the Babble action of calibration_node)') from exc
    except (OSError, ValueError) as exc:
        raise DatasetError(f'cannot read {path}: {exc}') from exc
    return DatasetMeta.from_json(data, str(path))


def _chunks(directory):
    return sorted(directory.glob('chunk_*.bin'))


def _crc(raw_record):
    return zlib.crc32(raw_record[:-4]) & 0xFFFFFFFF


def load_dataset(directory):
    """Every intact sample of the dataset in directory, as BabblingData."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise DatasetError(f'dataset directory {directory} does not exist')
    meta = _read_meta(directory)
    dtype = meta.dtype
    good, damaged = [], 0
    for chunk in _chunks(directory):
        raw = chunk.read_bytes()
        whole = len(raw) // dtype.itemsize
        damaged += int(len(raw) % dtype.itemsize != 0)  # a record torn by a crash
        for i in range(whole):
            record = raw[i * dtype.itemsize:(i + 1) * dtype.itemsize]
            parsed = np.frombuffer(record, dtype=dtype)
            if parsed['magic'][0] != _MAGIC or parsed['crc'][0] != _crc(record):
                damaged += 1
                continue
            good.append(parsed)
    records = np.concatenate(good) if good else np.zeros(0, dtype=dtype)
    return BabblingData(meta, records, damaged)


class DatasetWriter:
    """Appends samples to a dataset directory, creating it or resuming it.

    Resuming checks that the directory was recorded with the same actuators and layout;
    samples of another face cannot be mixed in.
    """

    def __init__(self, directory, meta, chunk_samples=CHUNK_SAMPLES):
        self.directory = pathlib.Path(directory)
        self.meta = meta
        self.chunk_samples = chunk_samples
        self.directory.mkdir(parents=True, exist_ok=True)
        if (self.directory / META_FILE).exists():
            existing = _read_meta(self.directory)
            if existing != meta:
                raise DatasetError(
                    f'{self.directory} holds a dataset of other actuators or another layout '
                    f'({existing.layout}, {len(existing.actuator_names)} actuators); give a '
                    'new dataset_path or delete the old one')
        else:
            temporary = self.directory / (META_FILE + '.tmp')
            temporary.write_text(json.dumps(meta.to_json(), indent=1))
            os.replace(temporary, self.directory / META_FILE)
        existing_data = load_dataset(self.directory)
        self.count = len(existing_data)
        self._next_index = {}
        for seed, index in zip(existing_data.seed, existing_data.index):
            self._next_index[int(seed)] = max(self._next_index.get(int(seed), 0), int(index) + 1)
        chunks = _chunks(self.directory)
        self._chunk_number = int(chunks[-1].stem.split('_')[1]) + 1 if chunks else 0
        self._file = None
        self._in_chunk = 0

    def next_index(self, seed):
        """The first pose index of the seeded sequence that is not in the dataset yet."""
        return self._next_index.get(int(seed), 0)

    def append(self, *, index, seed, detected, command_time, image_time, confidence,
               face_size_px, commanded, measured, landmarks):
        """Write one sample durably (flushed and fsync'ed before returning)."""
        record = np.zeros(1, dtype=self.meta.dtype)
        record['magic'] = _MAGIC
        record['index'], record['seed'], record['detected'] = index, seed, bool(detected)
        record['command_time'], record['image_time'] = command_time, image_time
        record['confidence'], record['face_size_px'] = confidence, face_size_px
        record['commanded'], record['measured'] = commanded, measured
        record['landmarks'] = landmarks if detected else np.nan
        raw = bytearray(record.tobytes())
        raw[-4:] = _crc(bytes(raw)).to_bytes(4, 'little')
        if self._file is None or self._in_chunk >= self.chunk_samples:
            self._open_chunk()
        self._file.write(raw)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._in_chunk += 1
        self.count += 1
        self._next_index[int(seed)] = max(self._next_index.get(int(seed), 0), int(index) + 1)

    def _open_chunk(self):
        if self._file is not None:
            self._file.close()
        path = self.directory / f'chunk_{self._chunk_number:05d}.bin'
        self._chunk_number += 1
        self._file = open(path, 'xb')  # noqa: SIM115 - kept open across appends
        self._in_chunk = 0
        # Make the new file's directory entry durable too.
        directory_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
