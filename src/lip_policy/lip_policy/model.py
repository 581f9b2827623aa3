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
