"""The house rules that keep each concept in one place (README, "Contributing"), checked on
the source itself, so a change that breaks one fails here with the file and line:

- no module imports another package's private names (`from pkg.mod import _name`, or
  `mod._name` on a module of another package): what is shared is public and documented;
- lip_policy's package code does not import face_sim (the learner never sees the hidden
  skin; fixtures that need both live in face_bringup.testing);
- node graphs are defined in face_common.graphs only: nobody else builds a NodeSpec
  (test_launch_consistency parses launch/ into NodeSpecs to compare it with the graphs).
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.name for p in (ROOT / 'src').iterdir()
                  if (p / p.name).is_dir() or (p / 'python').is_dir())


def python_files():
    for folder in ('src', 'bench', 'test', 'launch', 'scripts'):
        yield from sorted((ROOT / folder).rglob('*.py'))


def owner(path):
    """The package a file belongs to (None for bench/, test/, launch/)."""
    relative = path.relative_to(ROOT).parts
    return relative[1] if relative[0] == 'src' else None


def imported_names(tree):
    """{local name: top-level package} for every import in the module."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = node.module.split('.')[0]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[(alias.asname or alias.name).split('.')[0]] = alias.name.split('.')[0]
    return names


def private(name):
    return name.startswith('_') and not name.startswith('__')


def test_the_house_checks_see_every_package():
    assert {'face_common', 'face_msgs', 'lip_policy', 'face_sim', 'face_bringup',
            'face_motor_driver', 'mirror_calibration', 'face_speech'} <= set(PACKAGES)


def test_no_module_uses_another_packages_private_names():
    found = []
    for path in python_files():
        tree = ast.parse(path.read_text(), str(path))
        own, names = owner(path), imported_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                package = node.module.split('.')[0]
                found += [f'{path.relative_to(ROOT)}:{node.lineno} from {node.module} import '
                          f'{a.name}' for a in node.names
                          if private(a.name) and package in PACKAGES and package != own]
            elif isinstance(node, ast.Attribute) and private(node.attr) and \
                    isinstance(node.value, ast.Name):
                package = names.get(node.value.id)
                if package in PACKAGES and package != own:
                    found.append(f'{path.relative_to(ROOT)}:{node.lineno} '
                                 f'{node.value.id}.{node.attr}')
    assert not found, 'private names used across packages (make them public where they ' \
                      'belong, or move them):\n' + '\n'.join(found)


def test_lip_policy_does_not_import_face_sim():
    found = []
    for path in sorted((ROOT / 'src' / 'lip_policy' / 'lip_policy').rglob('*.py')):
        tree = ast.parse(path.read_text(), str(path))
        if 'face_sim' in imported_names(tree).values():
            found.append(str(path.relative_to(ROOT)))
    assert not found, f'lip_policy imports face_sim in {found}'


def test_node_graphs_are_defined_in_face_common_graphs_only():
    allowed = {ROOT / 'src/face_common/face_common/graphs.py',
               ROOT / 'src/face_bringup/test/test_launch_consistency.py'}
    found = []
    for path in python_files():
        if path in allowed:
            continue
        tree = ast.parse(path.read_text(), str(path))
        found += [f'{path.relative_to(ROOT)}:{node.lineno}' for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and getattr(node.func, 'id', getattr(
                      node.func, 'attr', None)) == 'NodeSpec']
    assert not found, 'NodeSpecs built outside face_common.graphs (add the graph there):\n' + \
        '\n'.join(found)
