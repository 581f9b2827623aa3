"""The skin model is hidden from the learner: the learning packages never import it.

Everything mirror_calibration and lip_policy know about the robot's face must come
through images; importing the skin (or anything that carries it) would let a model peek at
the answer. They may use the parts of face_sim that know nothing of actuators: the video
writer, the face photo and the mesh warp (for rendering their own talking heads).
"""

import ast
import pathlib
import subprocess
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2]
LEARNERS = ('mirror_calibration', 'lip_policy')
SKIN_FREE = ('face_sim.photo', 'face_sim.warp')


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == 'face_sim':   # from face_sim import skin
                yield from (f'face_sim.{alias.name}' for alias in node.names)
            else:
                yield node.module
        elif (isinstance(node, ast.Call) and getattr(node.func, 'attr', getattr(
                node.func, 'id', None)) in ('import_module', '__import__') and node.args
              and isinstance(node.args[0], ast.Constant)):
            yield str(node.args[0].value)


def leaks(path):
    return [m for m in imported_modules(path)
            if m.split('.')[0] == 'face_sim' and m not in SKIN_FREE]


def learner_sources():
    files = [p for package in LEARNERS for p in (SRC / package / package).rglob('*.py')]
    assert files, f'no sources of {LEARNERS} under {SRC}'
    return files


def test_the_scan_sees_every_way_of_importing_the_skin(tmp_path):
    leak = tmp_path / 'leak.py'
    leak.write_text('import importlib\nfrom face_sim import skin, photo\n'
                    'from face_sim.render import FaceRenderer\nimport face_sim.camera\n'
                    "x = importlib.import_module('face_sim.skin')\n")
    assert leaks(leak) == ['face_sim.skin', 'face_sim.render', 'face_sim.camera',
                           'face_sim.skin']


def test_the_skin_free_modules_do_not_load_the_skin():
    code = (f'import sys\nfor m in {SKIN_FREE!r}: __import__(m)\n'
            "print(sorted(m for m in sys.modules if m.startswith('face_sim')))")
    loaded = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            check=True).stdout
    assert 'face_sim.skin' not in loaded and 'face_sim.render' not in loaded
    assert 'face_sim.warp' in loaded


@pytest.mark.parametrize('path', learner_sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_learner_module_does_not_import_the_skin(path):
    leaked = leaks(path)
    assert not leaked, (f'{path} imports {leaked}; learners may use only {SKIN_FREE} '
                        '(subclass face_sim.warp.MeshWarpRenderer to render moved meshes)')
