"""The three models the lip policy runs on, loaded in one place (no rclpy).

lip model (audio -> human lips), retargeting (human -> robot lips) and the self-model
(robot lips -> lip actuators, and back through its forward model). lip_policy_node,
lip-e2e-eval and face-replay-eval all load them here; an empty path means the workspace
default in models/.
"""

import dataclasses
import pathlib

import numpy as np

# Measured with lip-e2e-eval on the emulated bus (servo lag time constant 30 ms, driver at
# 150 Hz): with no lead the lips trailed the offline policy by 38 ms, with 35 ms of lead by
# 10 ms. Used when the self-model's checkpoint carries no measured actuator_lag (mirror-lag
# measures it and stores it there).
FALLBACK_ACTUATOR_LAG = 0.045  # [s]
DEFAULT_FILES = {'lip_model': 'lip_model.pt', 'self_model': 'self_model_sim.pt',
                 'retarget': 'retarget.npz'}


def model_path(value, kind):
    """value as a path, or the workspace's default file for kind ('lip_model', ...)."""
    from face_common.workspace import config_dir

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

    def actuator_lag(self, parameter=-1.0):
        """(lag [s], measured): the lead of the commands, `parameter` when it is >= 0, else
        the lag mirror-lag stored in the self-model, else FALLBACK_ACTUATOR_LAG (measured
        False)."""
        if parameter >= 0:
            return float(parameter), True
        lag = self.checkpoint.get('metadata', {}).get('actuator_lag')
        return (FALLBACK_ACTUATOR_LAG, False) if lag is None else (float(lag), True)

    def servo_time_constant(self, parameter=-1.0):
        """[s] the feed-forward's servo time constant: `parameter` when it is >= 0, else the
        one mirror-lag stored in the self-model, else 0 (no feed-forward)."""
        if parameter >= 0:
            return float(parameter)
        return float(self.checkpoint.get('metadata', {}).get('servo_time_constant', 0.0))

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
