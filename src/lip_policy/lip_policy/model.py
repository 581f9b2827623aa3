"""The audio -> lip model: a causal dilated convolution stack with an explicit look-ahead.

Imports torch only. The network is strictly causal over feature frames; the look-ahead is a
fixed delay: its output at feature frame t is the lip frame t - lookahead_frames. So lips
for frame k need audio up to (k + 1 + lookahead_frames) * 10 ms. Every convolution keeps
its own left context as state, so feeding a clip in chunks gives the same numbers as
feeding it whole (`forward` is `step` from an empty state).

The convolutions run time-major, as matrix products over their kernel taps (the weights stay
in nn.Conv1d modules, so checkpoints are unchanged). A streamed chunk is one or two frames,
and for inputs that small torch's conv1d takes a per-channel fallback (slow_conv_dilated2d
for the dilated ones, not oneDNN): measured on this 2-core AMD EPYC, 130-250 us per
convolution against 17 us as one product, most of the lip model's streaming cost.
"""

import dataclasses

import torch
from torch import nn
from torch.nn import functional


@dataclasses.dataclass
class LipModelConfig:
    n_mels: int = 40
    n_coefficients: int = 12  # lip-space (PCA) coefficients predicted per frame
    channels: int = 64
    kernel_size: int = 3
    dilations: tuple = (1, 2, 4, 8, 16, 1)
    lookahead_frames: int = 6  # [10 ms frames] audio after a lip frame the model may hear

    def receptive_field(self):
        """Feature frames one output depends on (including itself)."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)


def gelu(x):
    """GELU (the exact, erf form) in plain tensor operations: torch's own gelu goes through
    oneDNN, whose fixed cost per call is more than these four operations on a frame or two
    (measured on a loaded 2-core AMD EPYC: a 2-frame streaming step 0.85 -> 0.70 ms)."""
    half = x * 0.5
    return torch.addcmul(half, half, torch.erf(x * 0.5 ** 0.5))


class CausalBlock(nn.Module):
    """Residual block: dilated causal conv -> GELU -> 1x1 conv, added to its input."""

    def __init__(self, channels, kernel_size, dilation):
        super().__init__()
        self.context = (kernel_size - 1) * dilation  # past frames this block needs
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x, state):
        # x: (batch, time, channels); state: (batch, context, channels) past inputs
        full = torch.cat([state, x], dim=1)  # (batch, context + time, channels)
        time, step = x.shape[1], self.conv.dilation[0]
        # (batch, time, channels, kernel): the inputs each output's kernel taps see, in the
        # order of conv.weight (out, in, kernel) flattened.
        taps = torch.stack([full[:, k * step:k * step + time]
                            for k in range(self.conv.kernel_size[0])], dim=3)
        y = functional.linear(taps.flatten(2), self.conv.weight.flatten(1), self.conv.bias)
        y = x + functional.linear(gelu(y), self.mix.weight.flatten(1), self.mix.bias)
        return y, full[:, full.shape[1] - self.context:]


class LipModel(nn.Module):
    """log-mel frames -> normalised lip coefficients, delayed by lookahead_frames."""

    def __init__(self, config: LipModelConfig):
        super().__init__()
        self.config = config
        self.register_buffer('feature_mean', torch.zeros(config.n_mels))
        self.register_buffer('feature_std', torch.ones(config.n_mels))
        self.register_buffer('coefficient_std', torch.ones(config.n_coefficients))
        self.inp = nn.Conv1d(config.n_mels, config.channels, 1)
        self.blocks = nn.ModuleList(CausalBlock(config.channels, config.kernel_size, d)
                                    for d in config.dilations)
        self.out = nn.Conv1d(config.channels, config.n_coefficients, 1)

    def initial_state(self, batch=1):
        """Empty left context of every block (equivalent to zero padding)."""
        device = self.feature_mean.device
        return [torch.zeros(batch, b.context, self.config.channels, device=device)
                for b in self.blocks]

    def step(self, features, state):
        """features: (batch, time, mels) -> (normalised coefficients (batch, time, coeffs),
        new state). Output time t is the lip frame t - lookahead_frames."""
        x = (features - self.feature_mean) / self.feature_std
        x = functional.linear(x, self.inp.weight.flatten(1), self.inp.bias)  # (b, time, ch)
        new_state = []
        for block, past in zip(self.blocks, state):
            x, past = block(x, past)
            new_state.append(past)
        return functional.linear(x, self.out.weight.flatten(1), self.out.bias), new_state

    def forward(self, features):
        return self.step(features, self.initial_state(features.shape[0]))[0]

    def coefficients(self, normalised):
        """Normalised outputs -> lip-space coefficients (same shape)."""
        return normalised * self.coefficient_std


class FrozenLipModel:
    """A trained LipModel's arithmetic for inference, one stream at a time: the same numbers
    (up to float rounding) from fewer tensor operations, which on the one or two frames of a
    streamed chunk is what the cost is.

    Built once from the model's weights (later training does not reach it). Folded in:
    the feature normalisation into the input layer, the 1 / sqrt(2) of GELU's erf into each
    dilated convolution (and its inverse into the 1x1 mix), the output scale
    (coefficient_std) into the output layer, and the mix biases into a shifted residual
    stream (each block's state starts at minus the biases added before it, which is the
    zero padding of the unshifted stream). Tensors are time-major without a batch:
    step(features (time, mels), state) -> (lip-space coefficients (time, coeffs), state).
    """

    def __init__(self, model):
        with torch.no_grad():
            std = model.feature_std
            self.inp_weight_t = (model.inp.weight.flatten(1) / std).T.contiguous()
            self.inp_bias = model.inp.bias - self.inp_weight_t.T @ model.feature_mean
            self.blocks, self.starts = [], []
            shift = torch.zeros(model.config.channels)  # mix biases added so far
            root_half = 0.5 ** 0.5
            for block in model.blocks:
                conv = block.conv
                # (out, in, kernel) -> rows ordered (kernel, in), as the taps are gathered
                weight = conv.weight.permute(0, 2, 1).flatten(1)
                bias = conv.bias + conv.weight.sum(dim=2) @ shift
                self.blocks.append((conv.dilation[0], conv.kernel_size[0],
                                    (weight * root_half).T.contiguous(), bias * root_half,
                                    (block.mix.weight.flatten(1) * root_half).T.contiguous()))
                self.starts.append(-shift.expand(block.context, -1).clone())
                shift = shift + block.mix.bias
            scale = model.coefficient_std[:, None]
            out = model.out.weight.flatten(1)
            self.out_weight_t = (out * scale).T.contiguous()
            self.out_bias = (model.out.bias + out @ shift) * scale[:, 0]

    def initial_state(self):
        """Each block's left context before any audio (the zero padding, shifted)."""
        return list(self.starts)

    def step(self, features, state):
        x = torch.addmm(self.inp_bias, features, self.inp_weight_t)  # (time, channels)
        time, channels = x.shape
        new_state = []
        for (dilation, kernel, weight_t, bias, mix_t), past in zip(self.blocks, state):
            full = torch.cat([past, x])  # (context + time, channels), contiguous
            # row t: full[t], full[t + dilation], ... (the kernel's taps), without copies
            taps = full.as_strided((time, kernel, channels), (channels, dilation * channels, 1),
                                   0)
            z = torch.addmm(bias, taps.reshape(time, kernel * channels), weight_t)
            # sqrt(2) GELU(sqrt(2) z), the sqrt(2)s being in the weights
            x = torch.addmm(x, torch.addcmul(z, z, torch.erf(z)), mix_t)
            new_state.append(full[time:])
        return torch.addmm(self.out_bias, x, self.out_weight_t), new_state
