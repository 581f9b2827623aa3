"""make setup is idempotent: run again on a set-up tree, it rebuilds and reinstalls nothing."""

import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_second_setup_changes_nothing():
    stamps = ROOT / '.venv' / '.stamps'
    before = {p.name: p.read_text() for p in stamps.iterdir()}
    result = subprocess.run(['bash', str(ROOT / 'scripts' / 'setup.sh')], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'setup: ready' in result.stdout
    assert 'installing' not in result.stdout and 'building' not in result.stdout, result.stdout
    assert {p.name: p.read_text() for p in stamps.iterdir()} == before
    # the system packages (festival, PortAudio) are stamped where setup could install them
    # (root with apt), else it warns
    assert set(before) - {'festival', 'portaudio'} == {'packages', 'face_msgs',
                                                       'python-packages'}
