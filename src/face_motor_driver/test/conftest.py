"""Fixtures of the driver tests: the face config and an emulator process with a fault file."""

import pytest

from face_motor_driver.emulator_process import EmulatorProcess
from face_motor_driver.face_config import default_face_config_path, load_face_config


@pytest.fixture(scope='session')
def face_config():
    return load_face_config(default_face_config_path())


@pytest.fixture
def fault_file(tmp_path):
    return tmp_path / 'faults.json'


@pytest.fixture
def emulator(fault_file):
    """A bus emulator process with the 26 face servos; faults via fault_file."""
    with EmulatorProcess(default_face_config_path(), fault_file=fault_file) as process:
        yield process
