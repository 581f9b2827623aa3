"""Where the workspace's files are: config_dir() holds config/*.yaml, launch_dir() the
launch files (no rclpy).

In order: $FACE_CONFIG_DIR when set (an installed robot keeps its own); else the share
folder of face_bringup found through the ament index (AMENT_PREFIX_PATH), where
`colcon build` installs config/ and launch/ (face_bringup's setup.py data_files); else the
folders of the source tree these packages run from: scripts/setup.sh installs them
editable into .venv, which installs no share data, so edits to config/ apply at once.
"""

import os
import pathlib

# src/face_common/face_common/workspace.py -> the workspace root
SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[3]
SHARE_PACKAGE = 'face_bringup'  # the package that installs config/ and launch/


def share_dir():
    """share/face_bringup of the ament index, or None when the index does not know it."""
    if not os.environ.get('AMENT_PREFIX_PATH'):
        return None
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )
    except ImportError:
        return None
    try:
        return pathlib.Path(get_package_share_directory(SHARE_PACKAGE))
    except (PackageNotFoundError, ValueError, OSError):
        return None


def _installed_or_source(folder):
    share = share_dir()
    if share is not None and (share / folder).is_dir():
        return share / folder
    return SOURCE_ROOT / folder


def config_dir():
    """The folder holding the workspace's config/*.yaml files."""
    override = os.environ.get('FACE_CONFIG_DIR')
    if override:
        return pathlib.Path(override)
    return _installed_or_source('config')


def launch_dir():
    """The folder holding launch/*.launch.py."""
    return _installed_or_source('launch')
