"""replace_atomically: a file being replaced is always the old one or the new one, whole,
whatever moment the writer is killed at."""

import os
import random
import signal
import time

import pytest

from face_common.files import replace_atomically, write_text_atomically


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    path = tmp_path / 'model.pt'
    write_text_atomically(path, 'old')
    with pytest.raises(RuntimeError), replace_atomically(path) as f:
        f.write(b'half of the new')
        raise RuntimeError('disk full')
    assert path.read_text() == 'old'
    assert [p.name for p in tmp_path.iterdir()] == ['model.pt']
    write_text_atomically(path, 'new')
    assert path.read_text() == 'new'
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_kill_9_at_random_points_during_50_checkpoint_saves_keeps_a_loadable_one(tmp_path):
    """A real self-model checkpoint (a few MB, torch.save through save_checkpoint), saved
    over and over by a forked child that is killed with SIGKILL at a random moment, 50
    times: the file always loads (weights_only) and holds one of the versions written."""
    import torch

    from mirror_calibration.self_model import (
        SelfModel,
        SelfModelConfig,
        load_checkpoint,
        save_checkpoint,
    )

    names = [f'a{i}' for i in range(26)]
    config = SelfModelConfig(actuator_count=26, lip_actuators=tuple(range(10)), hidden=384)
    model = SelfModel(config, lower=[-1.0] * 26, upper=[1.0] * 26, neutral=[0.0] * 26,
                      landmark_mean=torch.zeros(109, 3), landmark_std=torch.ones(109, 3))
    path = tmp_path / 'self_model.pt'
    save_checkpoint(path, model, names, 'face_subset_v1', {'version': -1})
    size = path.stat().st_size
    rng = random.Random(7)
    versions = set()
    for kill in range(50):
        child = os.fork()
        if child == 0:   # the writer: save new versions until killed
            try:
                version = kill * 1000
                while True:
                    save_checkpoint(path, model, names, 'face_subset_v1', {'version': version})
                    version += 1
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        _, checkpoint = load_checkpoint(path)     # raises on a torn file
        versions.add(checkpoint['metadata']['version'])
    # the kills fell both between saves and inside them (a killed save leaves its .tmp)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != 'self_model.pt']
    assert all(name.endswith('.tmp') for name in leftovers)
    print(f'{size / 1e6:.1f} MB checkpoint; {len(versions)} versions seen, '
          f'{len(leftovers)} saves killed midway')
    assert size > 1_000_000 and len(versions) >= 5 and len(leftovers) >= 5


def test_a_json_report_is_written_whole_or_not_at_all(tmp_path):
    import json

    from face_common.files import write_json

    path = tmp_path / 'figures.json'
    write_json(path, {'r': 0.8})
    with pytest.raises(TypeError):  # not serialisable: found before the old file is touched
        write_json(path, {'r': object()})
    assert json.loads(path.read_text()) == {'r': 0.8}
    assert sorted(p.name for p in tmp_path.iterdir()) == ['figures.json']
