"""The three models the lip policy runs on, loaded in one place (no rclpy).

lip model (audio -> human lips), retargeting (human -> robot lips) and the self-model
(robot lips -> lip actuators, and back through its forward model). lip_policy_node,
lip-e2e-eval and face-replay-eval all load them here; an empty path means the workspace
default in models/.
"""

import dataclasses
import pathlib

import numpy as np

DEFAULT_FILES = {'lip_model': 'lip_model.pt', 'self_model': 'self_model_sim.pt',
                 'retarget': 'retarget.npz'}


def model_path(value, kind):
    """value as a path, or the workspace's default file for kind ('lip_model', ...)."""
    from face_motor_driver.face_config import config_dir

    return pathlib.Path(value) if value else config_dir().parent / 'models' / DEFAULT_FILES[kind]


def lip_speed_limits(names, face_config=''):
    """(L,) max_velocity [rad/s] of the named actuators in config/face_motors.yaml (or the
    file face_config), the speeds the policy paces the lips to; raises ConfigError."""
    from face_motor_driver.face_config import (
        ConfigError,
        default_face_config_path,
        load_face_config,
    )

    path = face_config or default_face_config_path()
    actuators = {a.name: a for a in load_face_config(path).actuators}
    missing = [name for name in names if name not in actuators]
    if missing:
        raise ConfigError(f'{path} has no actuator {", ".join(missing)}, which the self-model '
                          'moves; use the face config the self-model was calibrated with')
    return np.array([actuators[name].max_velocity for name in names])


@dataclasses.dataclass
class RuntimeModels:
    predictor: object        # lip_policy.predictor.LipPredictor
    self_model: object       # mirror_calibration.self_model.SelfModel
    checkpoint: dict         # the self-model checkpoint (actuator_names, metadata, ...)
    to_actuators: object     # lip_policy.retarget.LipsToActuators

    @property
    def actuator_names(self):
        """All actuators of the self-model, in its order."""
        return list(self.checkpoint['actuator_names'])

    def robot_lips_of(self, lip_positions, rest=None):
        """(n, L) lip actuator positions -> (n, 40, 3) robot lips by the forward model."""
        import torch

        with torch.inference_mode():
            lips = torch.as_tensor(np.asarray(lip_positions), dtype=torch.float32)
            pose = self.self_model.full_pose(lips, rest)
            return self.self_model.lips_of(self.self_model(pose)).double().numpy()

    def lip_policy(self, config=None, face_config=''):
        """The streaming LipPolicy on these models, paced to the lip actuators' max_velocity
        in face_config ("" = config/face_motors.yaml) unless config.pacing is 0; the one
        way lip_policy_node and the offline references build it."""
        from lip_policy.lip_command import LipPolicy, PolicyConfig

        config = (config or PolicyConfig()).validate()
        names = self.to_actuators.names
        limits = lip_speed_limits(names, face_config) if config.pacing > 0 else None
        return LipPolicy(self.predictor, self.to_actuators, names, self.to_actuators.neutral,
                         config, limits)


def load_runtime_models(lip_model='', self_model='', retarget='', refine_steps=None):
    """Load all three; raises CheckpointError, SelfModelError or RetargetError with the
    reason when a file is missing or corrupt."""
    from lip_policy.predictor import LipPredictor
    from lip_policy.retarget import LipsToActuators, Retargeting
    from mirror_calibration.self_model import load_checkpoint

    predictor = LipPredictor.load(model_path(lip_model, 'lip_model'))
    model, checkpoint = load_checkpoint(model_path(self_model, 'self_model'))
    retargeting = Retargeting.load(model_path(retarget, 'retarget'))
    if refine_steps is None:
        refine_steps = LipsToActuators.DEFAULT_REFINE_STEPS
    to_actuators = LipsToActuators(retargeting, model, checkpoint['actuator_names'],
                                   refine_steps)
    return RuntimeModels(predictor, model, checkpoint, to_actuators)
