"""The skin model is hidden from the learner: the learning packages never import face_sim.

Everything mirror_calibration and lip_policy know about the face must come through
images; importing the simulator would let a model peek at the answer.
"""

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2]
LEARNERS = ('mirror_calibration', 'lip_policy')


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif (isinstance(node, ast.Call) and getattr(node.func, 'attr', getattr(
                node.func, 'id', None)) in ('import_module', '__import__') and node.args
              and isinstance(node.args[0], ast.Constant)):
            yield str(node.args[0].value)


def learner_sources():
    files = [p for package in LEARNERS for p in (SRC / package / package).rglob('*.py')]
    assert files, f'no sources of {LEARNERS} under {SRC}'
    return files


def test_the_scan_sees_an_import_of_face_sim(tmp_path):
    leak = tmp_path / 'leak.py'
    leak.write_text('import importlib\nfrom face_sim import skin\n'
                    "x = importlib.import_module('face_sim.skin')\n")
    assert list(imported_modules(leak)) == ['importlib', 'face_sim', 'face_sim.skin']


@pytest.mark.parametrize('path', learner_sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_learner_module_does_not_import_face_sim(path):
    leaked = [m for m in imported_modules(path) if m.split('.')[0] == 'face_sim']
    assert not leaked, f'{path} imports {leaked}; learners may only see the face via images'
