"""Where the workspace's files are: config_dir() holds config/*.yaml (no rclpy).

$FACE_CONFIG_DIR when set (an installed robot keeps its own), else the config/ folder of
the source tree these packages run from (they are installed editable by scripts/setup.sh).
"""

import os
import pathlib

# src/face_common/face_common/workspace.py -> the workspace root
SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[3]


def config_dir():
    """The folder holding the workspace's config/*.yaml files."""
    override = os.environ.get('FACE_CONFIG_DIR')
    if override:
        return pathlib.Path(override)
    return SOURCE_ROOT / 'config'
