"""The audio -> lip model: a causal dilated convolution stack with an explicit look-ahead.

Imports torch only. The network is strictly causal over feature frames; the look-ahead is a
fixed delay: its output at feature frame t is the lip frame t - lookahead_frames. So lips
for frame k need audio up to (k + 1 + lookahead_frames) * 10 ms. Every convolution keeps
its own left context as state, so feeding a clip in chunks gives the same numbers as
feeding it whole (`forward` is `step` from an empty state).
"""

import dataclasses

import torch
from torch import nn


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


class CausalBlock(nn.Module):
    """Residual block: dilated causal conv -> GELU -> 1x1 conv, added to its input."""

    def __init__(self, channels, kernel_size, dilation):
        super().__init__()
        self.context = (kernel_size - 1) * dilation  # past frames this block needs
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.act = nn.GELU()

    def forward(self, x, state):
        # x: (batch, channels, time); state: (batch, channels, context) past inputs
        full = torch.cat([state, x], dim=2)  # (batch, channels, context + time)
        y = x + self.mix(self.act(self.conv(full)))  # (batch, channels, time)
        return y, full[:, :, full.shape[2] - self.context:]


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
        return [torch.zeros(batch, self.config.channels, b.context, device=device)
                for b in self.blocks]

    def step(self, features, state):
        """features: (batch, time, mels) -> (normalised coefficients (batch, time, coeffs),
        new state). Output time t is the lip frame t - lookahead_frames."""
        x = ((features - self.feature_mean) / self.feature_std).transpose(1, 2)
        x = self.inp(x)  # (batch, channels, time)
        new_state = []
        for block, past in zip(self.blocks, state):
            x, past = block(x, past)
            new_state.append(past)
        return self.out(x).transpose(1, 2), new_state  # (batch, time, coeffs)

    def forward(self, features):
        return self.step(features, self.initial_state(features.shape[0]))[0]

    def coefficients(self, normalised):
        """Normalised outputs -> lip-space coefficients (same shape)."""
        return normalised * self.coefficient_std
