"""Every node graph of the face, as data: which node runs with which YAML file and overrides.

This is the one place that says which nodes run together. face-bringup, the launch
files (checked by face_bringup/test/test_launch_consistency.py), the mirror graph of
babbling and mirror-eval, lip-e2e-eval, face-replay-eval --realtime, the benchmarks and
the tests that start graphs all take their nodes from graph() and start them with
command() / start() / running().

It lives in face_common, not face_bringup, because face_bringup depends on every node
package (package.xml), while mirror_calibration and lip_policy start graphs too: defined
in face_bringup, those two would have to depend on face_bringup and colcon would see a
dependency cycle. face_common is the package all of them already depend on; this module
stays plain Python (no rclpy, no import of any node package: node classes are named as
'module:Class' strings).

    face        the robot: driver on the real bus, camera, observer, speech, lip policy
                (use_sim=True swaps in the emulated bus and the simulated head)
    face_sim    the same graph without the speech node, on the emulated bus with face_sim
                as the camera
    calibrate   driver, camera (or face_sim), observer and the babbling calibration node
    mirror      the simulated mirror of babbling and mirror evaluation: driver on the
                emulated bus in calibration mode, face_sim, observer detecting afresh in
                every frame, and calibration_node when `calibration` is given
    e2e         lip-e2e-eval's system under test: driver on the emulated bus, lip policy,
                and with through='camera' face_sim (480x360) and observer as instruments;
                with `speech` overrides the speech node too (the voice, started last)
    player      audio_player_node saying a text or playing a file once (lip-e2e-eval)
    policy, driver, speech, camera, observer, face_sim_alone, calibration
                one node with its YAML and the given overrides (benches, live replay, tests)
"""

import contextlib
import dataclasses
import pathlib

from face_common.node_processes import NodeProcess, NodeStartError, find_script

# The graphs launch/*.launch.py declare too (face-bringup's choices).
GRAPHS = ('face', 'face_sim', 'calibrate')

# The simulated camera's image for babbling and evaluation: the face's eye span is about
# 100 px, plenty for the landmark model (it crops the face to 192x192), at half the
# rendering and observing cost of 640x480. It also fits Fast DDS's shared-memory segment.
SIM_IMAGE = {'width': 480, 'height': 360}


class GraphError(NodeStartError):
    """A node of a graph cannot be started (missing params file or console script)."""


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    package: str
    executable: str
    params_file: str                  # file name in the config folder ('' = none)
    parameters: tuple = ()            # (name, value) overrides on top of params_file
    remappings: tuple = ()            # (from, to) topic remappings
    # 'module:Class' of the node, for face-bringup --composed (launch files name executables)
    node_class: str = dataclasses.field(default='', compare=False)
    # niceness the process starts with (instruments of an evaluation); launch files have none
    nice: int = dataclasses.field(default=0, compare=False)


# executable -> (package, params file, node class): every node of the face.
NODES = {
    'face_motor_driver_node': ('face_motor_driver', 'face_motor_driver.yaml',
                               'face_motor_driver.driver_node:FaceMotorDriverNode'),
    'face_sim_node': ('face_sim', 'face_sim.yaml', 'face_sim.face_sim_node:FaceSimNode'),
    'camera_node': ('mirror_calibration', 'mirror_calibration.yaml',
                    'mirror_calibration.camera_node:CameraNode'),
    'observer_node': ('mirror_calibration', 'mirror_calibration.yaml',
                      'mirror_calibration.observer_node:ObserverNode'),
    'calibration_node': ('mirror_calibration', 'mirror_calibration.yaml',
                         'mirror_calibration.calibration_node:CalibrationNode'),
    'lip_policy_node': ('lip_policy', 'lip_policy.yaml', 'lip_policy.policy_node:LipPolicyNode'),
    'audio_player_node': ('lip_policy', 'lip_policy.yaml',
                          'lip_policy.audio_player_node:AudioPlayerNode'),
    'speech_node': ('face_speech', 'face_speech.yaml', 'face_speech.speech_node:SpeechNode'),
}
# the one-node graphs: graph name -> executable
SINGLE = {'driver': 'face_motor_driver_node', 'face_sim_alone': 'face_sim_node',
          'camera': 'camera_node', 'observer': 'observer_node',
          'calibration': 'calibration_node', 'policy': 'lip_policy_node',
          'speech': 'speech_node'}


def node(executable, parameters=(), remappings=(), nice=0, params_file=True):
    """The NodeSpec of one node: its YAML (params_file=False: built-in defaults only) and
    overrides given as a dict or (name, value) pairs."""
    package, yaml_file, node_class = NODES[executable]
    items = tuple(parameters.items()) if isinstance(parameters, dict) else tuple(parameters)
    return NodeSpec(package, executable, yaml_file if params_file else '', items,
                    tuple(remappings), node_class=node_class, nice=nice)


def _launch_graph(name, use_sim=False, lip_model='', self_model='', audio_topic='audio'):
    sim = use_sim or name == 'face_sim'
    driver = node('face_motor_driver_node', (('port', 'sim'),) if sim else ())
    eyes = node('face_sim_node') if sim else node('camera_node')
    observer = node('observer_node')
    if name == 'calibrate':
        driver = dataclasses.replace(driver, parameters=driver.parameters
                                     + (('calibration_mode', True),))
        return [driver, eyes, observer, node('calibration_node')]
    # The voice publishes what it plays on the topic the policy hears.
    audio = (('audio', audio_topic),) if audio_topic != 'audio' else ()
    policy = node('lip_policy_node', (('lip_model', lip_model), ('self_model', self_model)),
                  audio)
    speech = node('speech_node', (), audio)
    return [driver, eyes, observer, policy] if name == 'face_sim' else \
        [driver, eyes, observer, speech, policy]


def _mirror(calibration=None, face_sim=None):
    """calibration: calibration_node overrides (None = no calibration_node); face_sim:
    face_sim_node overrides (default SIM_IMAGE)."""
    specs = [node('face_motor_driver_node', {'port': 'sim', 'calibration_mode': True}),
             node('face_sim_node', SIM_IMAGE if face_sim is None else face_sim),
             # Detection in every frame makes the landmarks a pure function of the image;
             # tracking would carry ~1% of mouth width of jitter from the previous pose.
             node('observer_node', {'static_images': True})]
    if calibration is not None:
        specs.append(node('calibration_node', calibration))
    return specs


def _e2e(through='forward', models=None, actuator_lag=None, camera_rate=30.0,
         instrument_nice=0, speech=None):
    """models: lip_policy_node overrides (lip_model, self_model, retarget paths); speech:
    speech_node overrides (None = no speech node: audio_player_node, the 'player' graph,
    is the voice), the node appended last so the others keep their places."""
    policy = dict(models or {})
    if actuator_lag is not None:
        policy['actuator_lag'] = actuator_lag
    # The driver and the policy raise their own priority (their `scheduling`).
    specs = [node('face_motor_driver_node', {'port': 'sim'}), node('lip_policy_node', policy)]
    if through == 'camera':
        specs += [node('face_sim_node', {'rate_hz': camera_rate, **SIM_IMAGE},
                       nice=instrument_nice),
                  node('observer_node', nice=instrument_nice)]
    if speech is not None:
        specs.append(node('speech_node', speech))
    return specs


def _player(source, lookahead=0.0, listeners=2):
    """source: {'text': ..., 'voice': ...} or {'file': ...}; said once, then it exits."""
    return [node('audio_player_node', {**source, 'lookahead': lookahead, 'start_delay': 1.0,
                                       'wait_for_subscribers': listeners,
                                       'chunk_duration': 0.02, 'exit_when_done': True})]


def graph(name, **options):
    """The nodes of graph `name` with the given options, in start order."""
    if name in GRAPHS:
        return _launch_graph(name, **options)
    if name in SINGLE:
        return [node(SINGLE[name], **options)]
    builders = {'mirror': _mirror, 'e2e': _e2e, 'player': _player}
    if name not in builders:
        names = ', '.join((*GRAPHS, *builders, *SINGLE))
        raise ValueError(f'unknown graph {name!r}; choose one of {names}')
    return builders[name](**options)


def _ros_value(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return '""' if value == '' else str(value)


def ros_arguments(spec, config_dir=None, namespace=''):
    """The ROS arguments of one NodeSpec: params file, overrides, remappings, namespace."""
    command = ['--ros-args']
    if spec.params_file:
        if config_dir is None:
            from face_common.workspace import config_dir as workspace_config

            config_dir = workspace_config()
        params_file = pathlib.Path(config_dir) / spec.params_file
        if not params_file.is_file():
            raise GraphError(f'parameter file {params_file} is missing; pass --config-dir '
                             'with the folder holding the config/*.yaml files')
        command += ['--params-file', str(params_file)]
    for name, value in spec.parameters:
        command += ['-p', f'{name}:={_ros_value(value)}']
    for source, target in spec.remappings:
        command += ['-r', f'{source}:={target}']
    if namespace:
        command += ['-r', f'__ns:={namespace if namespace.startswith("/") else "/" + namespace}']
    return command


def command(spec, config_dir=None, namespace=''):
    """The command line that starts one NodeSpec as its own process."""
    arguments = ros_arguments(spec, config_dir, namespace)
    try:
        return [find_script(spec.executable), *arguments]
    except NodeStartError as error:
        raise GraphError(str(error)) from error


def start(spec, config_dir=None, namespace=''):
    """One NodeSpec started as a NodeProcess (output kept, stopped with .close())."""
    return NodeProcess(spec.executable, command=command(spec, config_dir, namespace),
                       nice=spec.nice)


@contextlib.contextmanager
def running(specs, config_dir=None, namespace=''):
    """Start the NodeSpecs in order; stop every one of them (last first) on exit."""
    nodes = []
    try:
        for spec in specs:
            nodes.append(start(spec, config_dir, namespace))
        yield nodes
    finally:
        for process in reversed(nodes):
            process.close()
