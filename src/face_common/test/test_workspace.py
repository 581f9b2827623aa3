"""config_dir(): $FACE_CONFIG_DIR, else face_bringup's share folder through the ament
index, else the source tree's config/."""

import pathlib

from face_common import workspace


def _prefix(tmp_path):
    """An install prefix where the ament index knows face_bringup, with config/ and launch/."""
    prefix = tmp_path / 'install'
    index = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    (index / 'face_bringup').write_text('')
    for folder in ('config', 'launch'):
        (prefix / 'share' / 'face_bringup' / folder).mkdir(parents=True)
    return prefix


def test_the_source_tree_when_the_index_does_not_know_face_bringup(monkeypatch, tmp_path):
    monkeypatch.delenv('FACE_CONFIG_DIR', raising=False)
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    assert workspace.config_dir() == workspace.SOURCE_ROOT / 'config'
    assert workspace.launch_dir() == workspace.SOURCE_ROOT / 'launch'
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))  # an index without face_bringup
    assert workspace.config_dir() == workspace.SOURCE_ROOT / 'config'


def test_the_installed_share_folder_through_the_ament_index(monkeypatch, tmp_path):
    monkeypatch.delenv('FACE_CONFIG_DIR', raising=False)
    prefix = _prefix(tmp_path)
    monkeypatch.setenv('AMENT_PREFIX_PATH', f'{tmp_path / "other"}:{prefix}')
    share = prefix / 'share' / 'face_bringup'
    assert workspace.config_dir() == share / 'config'
    assert workspace.launch_dir() == share / 'launch'


def test_face_config_dir_wins(monkeypatch, tmp_path):
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(_prefix(tmp_path)))
    monkeypatch.setenv('FACE_CONFIG_DIR', str(tmp_path / 'robot'))
    assert workspace.config_dir() == pathlib.Path(tmp_path / 'robot')
