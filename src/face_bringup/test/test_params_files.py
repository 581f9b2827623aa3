"""config/*.yaml: every node's section applies in any namespace and equals its built-in table.

For every node of face_common.graphs.NODES: its YAML section is `/**:` when the file serves
that node alone, `/**/<node name>:` when it serves several (both match the node inside any
namespace); the section sets every parameter of the node's table (face_common.parameters
form) to the table's default, and each value passes its check. A node started in a namespace
with the file reads a changed value back from it.
"""

import importlib
import time

import pytest
import yaml

from face_common.graphs import NODES, node, running
from face_common.parameters import check_value
from face_common.workspace import config_dir

# executable -> (module with PARAMETERS, the node's name)
TABLES = {
    'face_motor_driver_node': ('face_motor_driver.driver_node', 'face_motor_driver_node'),
    'face_sim_node': ('face_sim.face_sim_node', 'face_sim_node'),
    'camera_node': ('mirror_calibration.camera_node', 'camera_node'),
    'observer_node': ('mirror_calibration.observer_node', 'observer_node'),
    'calibration_node': ('mirror_calibration.calibration_node', 'calibration_node'),
    'lip_policy_node': ('lip_policy.policy_node', 'lip_policy'),
    'audio_player_node': ('lip_policy.audio_player_node', 'audio_player'),
    'speech_node': ('face_speech.speech_node', 'speech'),
}


def _sections(params_file):
    return yaml.safe_load((config_dir() / params_file).read_text())


def test_every_node_of_the_graphs_has_a_table():
    assert set(TABLES) == set(NODES)


@pytest.mark.parametrize('executable', sorted(NODES))
def test_yaml_section_applies_in_any_namespace_and_equals_the_built_in_defaults(executable):
    _, params_file, _ = NODES[executable]
    module, name = TABLES[executable]
    sections = _sections(params_file)
    served = [e for e, (_, f, _) in NODES.items() if f == params_file]
    key = '/**' if len(served) == 1 else f'/**/{name}'
    assert set(sections) == ({'/**'} if len(served) == 1 else
                             {f'/**/{TABLES[e][1]}' for e in served}), params_file
    values = sections[key]['ros__parameters']
    table = importlib.import_module(module).PARAMETERS
    assert set(values) == set(table), f'{params_file} {key}'
    for parameter_name, parameter in table.items():
        assert values[parameter_name] == parameter.default, f'{executable} {parameter_name}'
        assert check_value(parameter_name, values[parameter_name], parameter,
                           params_file) == parameter.default
        assert parameter.description, f'{executable} {parameter_name}'


def _get_parameters(context, service, names, timeout=90.0):
    """Values of `names` from a node's get_parameters service (waits for the node)."""
    import rclpy
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python

    client_node = rclpy.create_node('params_reader', context=context)
    try:
        client = client_node.create_client(GetParameters, service)
        deadline = time.monotonic() + timeout
        while not client.wait_for_service(timeout_sec=0.5):
            assert time.monotonic() < deadline, f'{service} did not come up'
        future = client.call_async(GetParameters.Request(names=names))
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(client_node)
        executor.spin_until_future_complete(future, timeout_sec=30.0)
        assert future.done(), f'{service} did not answer'
        return [parameter_value_to_python(v) for v in future.result().values]
    finally:
        client_node.destroy_node()


@pytest.mark.ros
def test_a_node_in_a_namespace_reads_its_section_of_a_shared_file(tmp_path, ros_context):
    """calibration_node as /head/calibration_node, with mirror_calibration.yaml (three
    nodes' sections) changed to a non-default settle_window."""
    sections = _sections('mirror_calibration.yaml')
    default = sections['/**/calibration_node']['ros__parameters']['settle_window']
    sections['/**/calibration_node']['ros__parameters']['settle_window'] = default + 0.02
    (tmp_path / 'mirror_calibration.yaml').write_text(yaml.safe_dump(sections))
    with running([node('calibration_node')], config_dir=tmp_path, namespace='head') as nodes:
        try:
            value, = _get_parameters(ros_context, '/head/calibration_node/get_parameters',
                                     ['settle_window'])
        except AssertionError:
            print(nodes[0].output()[-3000:])
            raise
    assert value == pytest.approx(default + 0.02)
