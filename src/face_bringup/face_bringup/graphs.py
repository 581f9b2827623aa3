"""The node graphs of the face, as data: which node runs with which YAML file and overrides.

face-bringup starts exactly these; the launch files in launch/ declare the same nodes for
robots with a ROS 2 install, and a test reads both to check they agree. Graph names are
the launch files' names:

    face        the robot: driver on the real bus, camera, observer, speech, lip policy
                (use_sim=True swaps in the emulated bus and the simulated head)
    face_sim    the same graph without the speech node, on the emulated bus with face_sim
                as the camera
    calibrate   driver, camera (or face_sim), observer and the babbling calibration node
"""

import dataclasses

GRAPHS = ('face', 'face_sim', 'calibrate')


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    package: str
    executable: str
    params_file: str                  # file name in the config folder
    parameters: tuple = ()            # (name, value) overrides on top of params_file
    remappings: tuple = ()            # (from, to) topic remappings
    # 'module:Class' of the node, for face-bringup --composed (launch files name executables)
    node_class: str = dataclasses.field(default='', compare=False)


def graph(name, use_sim=False, lip_model='', self_model='', audio_topic='audio'):
    """The nodes of graph `name` with the given arguments, in start order."""
    if name not in GRAPHS:
        raise ValueError(f'unknown graph {name!r}; choose one of {", ".join(GRAPHS)}')
    sim = use_sim or name == 'face_sim'
    driver = NodeSpec('face_motor_driver', 'face_motor_driver_node', 'face_motor_driver.yaml',
                      (('port', 'sim'),) if sim else (),
                      node_class='face_motor_driver.driver_node:FaceMotorDriverNode')
    eyes = (NodeSpec('face_sim', 'face_sim_node', 'face_sim.yaml',
                     node_class='face_sim.face_sim_node:FaceSimNode') if sim else
            NodeSpec('mirror_calibration', 'camera_node', 'mirror_calibration.yaml',
                     node_class='mirror_calibration.camera_node:CameraNode'))
    observer = NodeSpec('mirror_calibration', 'observer_node', 'mirror_calibration.yaml',
                        node_class='mirror_calibration.observer_node:ObserverNode')
    if name == 'calibrate':
        driver = dataclasses.replace(driver, parameters=driver.parameters
                                     + (('calibration_mode', True),))
        return [driver, eyes, observer,
                NodeSpec('mirror_calibration', 'calibration_node', 'mirror_calibration.yaml',
                         node_class='mirror_calibration.calibration_node:CalibrationNode')]
    policy = NodeSpec('lip_policy', 'lip_policy_node', 'lip_policy.yaml',
                      (('lip_model', lip_model), ('self_model', self_model)),
                      (('audio', audio_topic),) if audio_topic != 'audio' else (),
                      node_class='lip_policy.policy_node:LipPolicyNode')
    # The voice publishes what it plays on the topic the policy hears.
    speech = NodeSpec('face_speech', 'speech_node', 'face_speech.yaml', (),
                      (('audio', audio_topic),) if audio_topic != 'audio' else (),
                      node_class='face_speech.speech_node:SpeechNode')
    return [driver, eyes, observer, policy] if name == 'face_sim' else \
        [driver, eyes, observer, speech, policy]
