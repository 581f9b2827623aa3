"""The append-only babbling dataset: round trip, torn and corrupted records, resume, crash."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from mirror_calibration.dataset import DatasetError, DatasetMeta, DatasetWriter, load_dataset

META = DatasetMeta('face_subset_v1', ('jaw_open', 'lip_corner_left_raise'), (-0.05, -0.45),
                   (0.4, 0.45), (0.0, 0.0), 5)


def _sample(i, seed=7, detected=True):
    rng = np.random.default_rng(i)
    return dict(index=i, seed=seed, detected=detected, command_time=100.0 + i,
                image_time=100.05 + i, confidence=0.9, face_size_px=80.0,
                commanded=rng.uniform(-0.4, 0.4, 2), measured=rng.uniform(-0.4, 0.4, 2),
                landmarks=rng.normal(size=(5, 3)))


def _write(directory, indices, **kwargs):
    with DatasetWriter(directory, META, **kwargs) as writer:
        for i in indices:
            writer.append(**_sample(i))


def test_round_trip_keeps_every_field(tmp_path):
    _write(tmp_path, range(10))
    _write(tmp_path, range(10, 12))
    data = load_dataset(tmp_path)
    assert len(data) == 12 and data.damaged == 0
    assert data.meta == META
    np.testing.assert_array_equal(data.index, np.arange(12))
    expected = _sample(3)
    np.testing.assert_allclose(data.commanded[3], expected['commanded'])
    np.testing.assert_allclose(data.measured[3], expected['measured'])
    np.testing.assert_allclose(data.landmarks[3], expected['landmarks'])
    assert data.image_time[3] == pytest.approx(103.05)
    assert len(list(tmp_path.glob('chunk_*.bin'))) == 2, 'each session appends a new chunk'


def test_frames_without_face_are_stored_flagged(tmp_path):
    with DatasetWriter(tmp_path, META) as writer:
        writer.append(**_sample(0, detected=False))
    data = load_dataset(tmp_path)
    assert not data.detected[0]
    assert np.all(np.isnan(data.landmarks[0]))


def test_chunks_roll_over(tmp_path):
    _write(tmp_path, range(7), chunk_samples=3)
    assert len(list(tmp_path.glob('chunk_*.bin'))) == 3
    assert len(load_dataset(tmp_path)) == 7


def test_torn_last_record_loses_only_itself(tmp_path):
    _write(tmp_path, range(5))
    chunk = next(tmp_path.glob('chunk_*.bin'))
    with open(chunk, 'r+b') as f:
        f.truncate(chunk.stat().st_size - 17)
    data = load_dataset(tmp_path)
    assert len(data) == 4 and data.damaged == 1
    np.testing.assert_array_equal(data.index, np.arange(4))


def test_corrupted_record_is_skipped_not_trusted(tmp_path):
    _write(tmp_path, range(5))
    chunk = next(tmp_path.glob('chunk_*.bin'))
    raw = bytearray(chunk.read_bytes())
    raw[2 * META.dtype.itemsize + 40] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    data = load_dataset(tmp_path)
    assert data.damaged == 1
    np.testing.assert_array_equal(data.index, [0, 1, 3, 4])


def test_resume_continues_the_sequence_per_seed(tmp_path):
    _write(tmp_path, range(4))
    writer = DatasetWriter(tmp_path, META)
    try:
        assert writer.count == 4
        assert writer.next_index(7) == 4
        assert writer.next_index(8) == 0
    finally:
        writer.close()


def test_other_face_cannot_be_mixed_in(tmp_path):
    _write(tmp_path, range(2))
    other = DatasetMeta('face_subset_v1', ('jaw_open',), (-0.05,), (0.4,), (0.0,), 5)
    with pytest.raises(DatasetError, match='new dataset_path'):
        DatasetWriter(tmp_path, other)


def test_missing_or_damaged_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match='does not exist'):
        load_dataset(tmp_path / 'nowhere')
    with pytest.raises(DatasetError, match='not a babbling dataset'):
        load_dataset(tmp_path)
    (tmp_path / 'dataset.json').write_text('{"format": "mirror_babbling_v1"}')
    with pytest.raises(DatasetError, match='damaged'):
        load_dataset(tmp_path)


def test_killed_writer_loses_at_most_the_sample_in_flight(tmp_path):
    """SIGKILL a process that appends as fast as it can; every finished sample survives."""
    script = textwrap.dedent(f'''
        import sys
        import numpy as np
        from mirror_calibration.dataset import DatasetMeta, DatasetWriter
        meta = DatasetMeta('face_subset_v1', ('a', 'b'), (-1.0, -1.0), (1.0, 1.0),
                           (0.0, 0.0), 5)
        writer = DatasetWriter({str(tmp_path)!r}, meta, chunk_samples=50)
        i = 0
        while True:
            writer.append(index=i, seed=1, detected=True, command_time=float(i),
                          image_time=float(i), confidence=1.0, face_size_px=1.0,
                          commanded=np.full(2, i / 1e4), measured=np.full(2, i / 1e4),
                          landmarks=np.full((5, 3), float(i)))
            print(i, flush=True)
            i += 1
    ''')
    process = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE,
                               text=True)
    try:
        reported = -1
        deadline = time.monotonic() + 60
        while reported < 120 and time.monotonic() < deadline:
            reported = int(process.stdout.readline())
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        reported_rest = [int(x) for x in process.stdout.read().split()]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    last_reported = reported_rest[-1] if reported_rest else reported
    data = load_dataset(tmp_path)
    assert data.damaged <= 1
    count = len(data)
    assert count >= last_reported + 1, 'every sample whose append returned is on disk'
    np.testing.assert_array_equal(data.index, np.arange(count))
    np.testing.assert_allclose(data.landmarks[:, 0, 0], np.arange(count))
    with DatasetWriter(tmp_path, load_dataset(tmp_path).meta) as writer:
        assert writer.next_index(1) == count
