"""The learned self-model of the face: forward (actuators -> landmarks) and inverse
(target lip landmarks -> lip actuators). Imports only torch (and the standard library).

Units in and out are the face's own: joint positions in radians (config order of
config/face_motors.yaml), landmarks in the normalised face frame (eye spans). Inside, joints
are scaled to [-1, 1] across their limits and landmarks are standardised with the training
set's mean and standard deviation; both statistics travel in the checkpoint.

The inverse model ends in tanh mapped onto [min, max] of each lip actuator, so no output,
however strange the target, can leave the actuator limits.
"""

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional

from face_common.files import replace_atomically

silu_backward = torch.ops.aten.silu_backward  # (gradient, x) -> gradient * d silu(x) / dx

CHECKPOINT_FORMAT = 'mirror_self_model_v1'


class SelfModelError(RuntimeError):
    """A self-model checkpoint is missing, damaged or does not fit the face."""


@dataclass
class SelfModelConfig:
    actuator_count: int = 26          # joints the forward model reads
    lip_actuators: tuple = ()         # indices of the inverse model's joints (jaw + lips)
    point_count: int = 109            # landmarks the forward model predicts
    lip_points: tuple = (0, 40)       # [start, stop) of the lip landmarks in the layout
    hidden: int = 256                 # width of the hidden layers
    layers: int = 3                   # hidden layers per network

    @property
    def lip_point_count(self):
        return self.lip_points[1] - self.lip_points[0]


def _mlp(inputs, hidden, layers, outputs):
    blocks, width = [], inputs
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    blocks.append(nn.Linear(width, outputs))
    return nn.Sequential(*blocks)


class SelfModel(nn.Module):

    def __init__(self, config, lower, upper, neutral, landmark_mean, landmark_std):
        super().__init__()
        self.config = config
        lips = list(config.lip_actuators)
        if not lips:
            raise SelfModelError('config.lip_actuators is empty; the inverse model needs the '
                                 'indices of the jaw and lip actuators')
        self.register_buffer('lower', torch.as_tensor(lower, dtype=torch.float32))      # (A,)
        self.register_buffer('upper', torch.as_tensor(upper, dtype=torch.float32))      # (A,)
        self.register_buffer('neutral', torch.as_tensor(neutral, dtype=torch.float32))  # (A,)
        self.register_buffer('landmark_mean',
                             torch.as_tensor(landmark_mean, dtype=torch.float32))       # (P, 3)
        self.register_buffer('landmark_std',
                             torch.as_tensor(landmark_std, dtype=torch.float32))        # (P, 3)
        self.register_buffer('lip_index', torch.tensor(lips, dtype=torch.long))         # (L,)
        self.forward_net = _mlp(config.actuator_count, config.hidden, config.layers,
                                config.point_count * 3)
        self.inverse_net = _mlp(config.lip_point_count * 3, config.hidden, config.layers,
                                len(lips))

    # --- normalisation -------------------------------------------------------------------
    def joints_to_unit(self, positions):             # (B, A) rad -> (B, A) in [-1, 1]
        half = (self.upper - self.lower).clamp_min(1e-6) / 2
        return (positions - (self.upper + self.lower) / 2) / half

    def _lip_slice(self):
        start, stop = self.config.lip_points
        return slice(start, stop)

    def standardise(self, landmarks):                # (B, P, 3) -> (B, P, 3)
        return (landmarks - self.landmark_mean) / self.landmark_std

    def standardise_lips(self, lips):                # (B, Pl, 3) -> (B, Pl, 3)
        s = self._lip_slice()
        return (lips - self.landmark_mean[s]) / self.landmark_std[s]

    # --- the two models --------------------------------------------------------------------
    def forward_standardised(self, positions):       # (B, A) rad -> (B, P, 3) standardised
        out = self.forward_net(self.joints_to_unit(positions))
        return out.view(-1, self.config.point_count, 3)

    def forward(self, positions):
        """Predicted landmarks (B, P, 3) [eye spans] of joint positions (B, A) [rad]."""
        return self.forward_standardised(positions) * self.landmark_std + self.landmark_mean

    def inverse(self, lips):
        """Lip joint positions (B, L) [rad], within limits, that should show lips (B, Pl, 3)."""
        z = self.standardise_lips(lips).flatten(1)
        unit = torch.tanh(self.inverse_net(z))
        lower, upper = self.lower[self.lip_index], self.upper[self.lip_index]
        return lower + (unit + 1) * (upper - lower) / 2

    def full_pose(self, lip_positions, rest=None):
        """(B, A) joint positions: lip_positions on the lip joints, rest (or neutral) elsewhere."""
        base = self.neutral.expand(lip_positions.shape[0], -1) if rest is None else rest
        pose = base.clone()
        pose[:, self.lip_index] = lip_positions
        return pose

    def lips_of(self, landmarks):                    # (B, P, 3) -> (B, Pl, 3)
        return landmarks[:, self._lip_slice()]


class LipResponse:
    """The forward model's lips as a function of the lip joints alone, every other joint at
    neutral, and its Jacobian by forward-mode differentiation: for the many small per-frame
    least-squares fits of the lip policy, where autograd's bookkeeping (and one backward
    pass per output) would cost many times the arithmetic.

    Input: lip joints in unit form (B, L), [-1, 1] across their limits (joints_to_unit of
    the lip columns). Output: readout @ standardised lips, (B, R); readout (R, Pl * 3) is a
    fixed linear map chosen by the caller (default the identity), folded into the last layer.
    A fit compares it with a target through offset(target) (B, R), so that
    miss(unit, offset) = readout @ (standardise(shown lips) - standardise(target)).
    linearise(unit, offset) also gives d miss / d unit (B, L, R): the L tangent directions
    go through each Linear layer in one product, and through SiLU by its derivative.

    On a frame or two every tensor operation costs a few microseconds whatever its size, so
    both use as few as the arithmetic allows.
    """

    def __init__(self, model, readout=None):
        layers = list(model.forward_net)
        linear = layers[0::2]
        if not (all(isinstance(x, nn.Linear) for x in linear)
                and all(isinstance(x, nn.SiLU) for x in layers[1::2])
                and len(layers) % 2 == 1):
            raise SelfModelError('the forward network is not Linear/SiLU layers; '
                                 'LipResponse cannot differentiate it')
        lip = model.lip_index
        lips = model._lip_slice()
        rows = torch.arange(lips.start * 3, lips.stop * 3)
        if readout is None:
            readout = torch.eye(len(rows))
        readout = torch.as_tensor(readout, dtype=torch.float32)
        with torch.no_grad():
            rest = model.joints_to_unit(model.neutral[None])[0]
            first = linear[0]
            first_weight = first.weight[:, lip]                                 # (H, L)
            weights = [first_weight] + [x.weight for x in linear[1:-1]]
            self.biases = [first.bias + first.weight @ rest - first_weight @ rest[lip]] + [
                x.bias.clone() for x in linear[1:-1]]
            # Transposed once, not per product.
            self.weights_t = [w.T.contiguous() for w in weights]
            self.last_weight_t = (readout @ linear[-1].weight[rows]).T.contiguous()  # (H, R)
            self.last_bias = readout @ linear[-1].bias[rows]                   # (R,)
            # offset(target) = last_bias - readout @ standardise(target), as one product
            std = model.landmark_std[lips].flatten()
            self._target_weight_t = -(readout / std).T.contiguous()           # (Pl * 3, R)
            self._target_bias = self.last_bias + readout @ (model.landmark_mean[lips].flatten()
                                                            / std)

    def offset(self, target):
        """(B, R) for lips target (B, Pl, 3) [eye spans]: see the class docstring."""
        return torch.addmm(self._target_bias, target.flatten(1), self._target_weight_t)

    def _hidden(self, unit):
        for weight_t, bias in zip(self.weights_t, self.biases):
            unit = functional.silu(torch.addmm(bias, unit, weight_t))
        return unit

    def lips(self, unit):
        """readout @ standardised lips (B, R) of lip joints in unit form (B, L)."""
        return torch.addmm(self.last_bias, self._hidden(unit), self.last_weight_t)

    def miss(self, unit, offset):
        return torch.addmm(offset, self._hidden(unit), self.last_weight_t)

    def linearise(self, unit, offset):
        """(miss (B, R), d miss / d unit (B, L, R)) at lip joints in unit form (B, L)."""
        hidden, tangent = unit, None
        for weight_t, bias in zip(self.weights_t, self.biases):
            pre = torch.addmm(bias, hidden, weight_t)
            # the L unit directions: the first layer's rows, then each product moves them on
            tangent = weight_t if tangent is None else tangent @ weight_t
            tangent = silu_backward(tangent, pre[:, None])  # tangent * silu'(pre)
            hidden = functional.silu(pre)
        return (torch.addmm(offset, hidden, self.last_weight_t),
                tangent @ self.last_weight_t)


def save_checkpoint(path, model, actuator_names, layout, metadata=None):
    """Write a self-describing checkpoint: weights, config, limits, statistics, metadata.
    Crash-safe: the file at path is the old checkpoint or the new one, whole."""
    checkpoint = {
        'format': CHECKPOINT_FORMAT,
        'config': {k: list(v) if isinstance(v, tuple) else v
                   for k, v in asdict(model.config).items()},
        'state_dict': model.state_dict(),
        'actuator_names': list(actuator_names),
        'layout': layout,
        'metadata': dict(metadata or {}),
    }
    with replace_atomically(path) as f:
        torch.save(checkpoint, f)


def require_actuators(checkpoint, names):
    """SelfModelError unless the checkpoint was fitted on exactly these actuators, in order."""
    if list(names) != list(checkpoint['actuator_names']):
        raise SelfModelError('the checkpoint was fitted on other actuators than '
                             'config/face_motors.yaml names; re-run mirror-fit')


def load_checkpoint(path):
    """(SelfModel in eval mode, checkpoint dict) from path; SelfModelError says what to do."""
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError as exc:
        raise SelfModelError(f'no self-model at {path}; train one with '
                             '`mirror-fit DATASET --out CKPT`') from exc
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        raise SelfModelError(f'{path} is not a readable self-model checkpoint ({exc}); it may '
                             'be truncated or corrupt: re-run mirror-fit to recreate it') from exc
    if not isinstance(checkpoint, dict) or checkpoint.get('format') != CHECKPOINT_FORMAT:
        raise SelfModelError(f'{path} is not a {CHECKPOINT_FORMAT} checkpoint; re-run mirror-fit')
    try:
        raw = dict(checkpoint['config'])
        raw['lip_actuators'] = tuple(raw['lip_actuators'])
        raw['lip_points'] = tuple(raw['lip_points'])
        config = SelfModelConfig(**raw)
        state = checkpoint['state_dict']
        model = SelfModel(config, state['lower'], state['upper'], state['neutral'],
                          state['landmark_mean'], state['landmark_std'])
        model.load_state_dict(state)
    except (KeyError, TypeError, RuntimeError) as exc:
        raise SelfModelError(f'{path} is damaged or from another model version ({exc}); '
                             're-run mirror-fit') from exc
    if len(checkpoint.get('actuator_names', ())) != config.actuator_count:
        raise SelfModelError(f'{path} names {len(checkpoint.get("actuator_names", ()))} '
                             f'actuators but its model reads {config.actuator_count}')
    if not bool(torch.isfinite(model.landmark_std).all()):
        raise SelfModelError(f'{path} holds non-finite normalisation statistics; '
                             're-run mirror-fit')
    model.eval()
    return model, checkpoint
