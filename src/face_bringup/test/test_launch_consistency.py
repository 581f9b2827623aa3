"""launch/*.launch.py and face-bringup start the same nodes with the same parameters.

ros2 launch is not installable here, so the launch files are read as Python syntax trees
(not run): every launch_ros Node(...) is turned into the NodeSpec it would start under the
given launch arguments, and compared with face_common.graphs.
"""

import ast
import pathlib

import pytest
import yaml

from face_bringup.bringup import node_command
from face_common.graphs import GRAPHS, NodeSpec, graph

ROOT = pathlib.Path(__file__).resolve().parents[3]
LAUNCH = ROOT / 'launch'
CONFIG = ROOT / 'config'


def _declared_arguments(tree):
    """{name: (default, description)} of every DeclareLaunchArgument."""
    declared = {}
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, 'id', '') == 'DeclareLaunchArgument':
            keywords = {k.arg: k.value for k in call.keywords}
            declared[call.args[0].value] = (ast.literal_eval(keywords['default_value'])
                                            if isinstance(keywords['default_value'], ast.Constant)
                                            else None,
                                            ast.literal_eval(keywords['description']))
    return declared


def _value(node, variables, arguments):
    """The value of a launch expression under the given launch arguments."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return _value(variables[node.id], variables, arguments)
    if isinstance(node, ast.Call):
        kind = node.func.id
        if kind == 'LaunchConfiguration':
            return arguments[node.args[0].value]
        if kind == 'PathJoinSubstitution':
            return _value(node.args[0].elts[-1], variables, arguments)  # the file name
        if kind in ('IfCondition', 'UnlessCondition'):
            truth = str(_value(node.args[0], variables, arguments)).lower() == 'true'
            return truth if kind == 'IfCondition' else not truth
    raise AssertionError(f'unexpected launch expression {ast.dump(node)}')


def launched_nodes(launch_file, arguments):
    """The NodeSpecs a launch file starts under `arguments` (launch argument -> value)."""
    tree = ast.parse(launch_file.read_text())
    declared = _declared_arguments(tree)
    arguments = {name: default for name, (default, _) in declared.items()} | arguments
    function = next(f for f in tree.body if isinstance(f, ast.FunctionDef)
                    and f.name == 'generate_launch_description')
    variables = {t.targets[0].id: t.value for t in function.body if isinstance(t, ast.Assign)}
    specs = []
    for call in ast.walk(function):
        if not (isinstance(call, ast.Call) and getattr(call.func, 'id', '') == 'Node'):
            continue
        keywords = {k.arg: k.value for k in call.keywords}
        if 'condition' in keywords and not _value(keywords['condition'], variables, arguments):
            continue
        params_file, overrides = None, []
        for item in keywords['parameters'].elts:
            if isinstance(item, ast.Dict):
                overrides += [(key.value, _value(v, variables, arguments))
                              for key, v in zip(item.keys, item.values)]
            else:
                params_file = _value(item, variables, arguments)
        remaps = tuple((s.value, _value(t, variables, arguments))
                       for s, t in (e.elts for e in keywords.get('remappings', ast.List([])).elts)
                       if s.value != _value(t, variables, arguments))
        specs.append(NodeSpec(keywords['package'].value, keywords['executable'].value,
                              params_file, tuple(overrides), remaps))
    return specs, declared


CASES = [('face', {'use_sim': 'false'}, {}), ('face', {'use_sim': 'true'}, {'use_sim': True}),
         ('face_sim', {}, {}), ('calibrate', {'use_sim': 'false'}, {}),
         ('calibrate', {'use_sim': 'true'}, {'use_sim': True}),
         ('face', {'lip_model': '/m/lip.pt', 'self_model': '/m/self.pt',
                   'audio_topic': '/tts/audio'},
          {'lip_model': '/m/lip.pt', 'self_model': '/m/self.pt', 'audio_topic': '/tts/audio'})]


@pytest.mark.parametrize('name, launch_args, bringup_args', CASES)
def test_launch_file_and_bringup_start_the_same_nodes(name, launch_args, bringup_args):
    launched, _ = launched_nodes(LAUNCH / f'{name}.launch.py', launch_args)
    assert sorted(launched, key=repr) == sorted(graph(name, **bringup_args), key=repr)


@pytest.mark.parametrize('name', GRAPHS)
def test_every_launch_argument_is_described_and_every_params_file_exists(name):
    _, declared = launched_nodes(LAUNCH / f'{name}.launch.py', {})
    assert {'namespace', 'config_dir'} <= set(declared)
    for argument, (_, description) in declared.items():
        assert len(description) > 15, f'{argument} needs a real description'
    for spec in graph(name, use_sim=True) + graph(name, use_sim=False):
        path = CONFIG / spec.params_file
        assert path.is_file(), f'{spec.executable} needs {path}'
        assert isinstance(yaml.safe_load(path.read_text()), dict)


def test_bringup_command_carries_params_file_overrides_remaps_and_namespace(tmp_path):
    (tmp_path / 'lip_policy.yaml').write_text('/**:\n  ros__parameters: {}\n')
    spec = graph('face', lip_model='/m/lip.pt', audio_topic='/tts/audio')[-1]
    command = node_command(spec, tmp_path, namespace='head')
    assert command[0].endswith('lip_policy_node')
    assert command[1:4] == ['--ros-args', '--params-file', str(tmp_path / 'lip_policy.yaml')]
    joined = ' '.join(command)
    assert '-p lip_model:=/m/lip.pt' in joined and '-p self_model:=""' in joined
    assert '-r audio:=/tts/audio' in joined and '-r __ns:=/head' in joined


def test_missing_params_file_is_a_clear_error(tmp_path):
    from face_bringup.bringup import BringupError

    with pytest.raises(BringupError, match='--config-dir'):
        node_command(graph('face_sim')[0], tmp_path)


@pytest.mark.parametrize('name', GRAPHS)
def test_every_launched_node_gets_one_math_thread_as_face_bringup_gives_it(name):
    from face_common.node_processes import ONE_MATH_THREAD, node_environment

    tree = ast.parse((LAUNCH / f'{name}.launch.py').read_text())
    constants = {t.targets[0].id: ast.literal_eval(t.value) for t in tree.body
                 if isinstance(t, ast.Assign) and isinstance(t.value, ast.Dict)}
    calls = [c for c in ast.walk(tree) if isinstance(c, ast.Call)
             and getattr(c.func, 'id', '') == 'Node']
    assert calls
    for call in calls:
        env = {k.arg: k.value for k in call.keywords}.get('additional_env')
        assert isinstance(env, ast.Name) and constants[env.id] == ONE_MATH_THREAD
    assert ONE_MATH_THREAD.items() <= node_environment().items()
