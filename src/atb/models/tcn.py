"""TCN: residual blocks of causal dilated convolutions (dilations 1, 2, 4, ...), enough blocks for the
receptive field to cover the whole window, and a head on the last time step.

The convolutions are Conv2d with a (1, k) kernel over a (batch, channels, 1, time) tensor: the same
arithmetic as Conv1d, in the form ONNX Runtime executes fastest on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from atb.models.spec import ArchitectureSpec


@dataclass
class TCNConfig:
    n_features: int
    sequence_length: int
    channels: int = 48
    kernel_size: int = 3
    dense: int = 32
    dropout: float = 0.1

    @property
    def levels(self) -> int:
        """Fewest blocks whose receptive field covers the sequence."""
        n = 1
        while receptive_field(self.kernel_size, n) < self.sequence_length:
            n += 1
        return n

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.kernel_size, self.levels)


def receptive_field(kernel_size: int, levels: int) -> int:
    # Two convolutions per block, dilation 2**i in block i.
    return 1 + 2 * (kernel_size - 1) * (2**levels - 1)


class CausalConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int):
        super().__init__()
        self.pad = (kernel_size - 1) * dilation  # left padding only: output t never sees t+1
        self.conv = nn.Conv2d(c_in, c_out, (1, kernel_size), dilation=(1, dilation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (self.pad, 0)))


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            CausalConv(c_in, c_out, kernel_size, dilation), nn.ReLU(), nn.Dropout(dropout),
            CausalConv(c_out, c_out, kernel_size, dilation), nn.ReLU(), nn.Dropout(dropout),
        )
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.net(x) + self.skip(x))


class TCN(nn.Module):
    def __init__(self, cfg: TCNConfig):
        super().__init__()
        blocks = []
        c_in = cfg.n_features
        for level in range(cfg.levels):
            blocks.append(ResidualBlock(c_in, cfg.channels, cfg.kernel_size, 2**level, cfg.dropout))
            c_in = cfg.channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Linear(cfg.channels, cfg.dense), nn.ReLU(), nn.Linear(cfg.dense, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, sequence, features) -> (batch,) scaled next-bar log return."""
        h = self.blocks(x.transpose(1, 2).unsqueeze(2))  # (batch, channels, 1, sequence)
        return self.head(h[:, :, 0, -1]).squeeze(-1)


VARIANTS = {
    "lightweight": dict(channels=24, kernel_size=3, dense=16),
    "default": dict(channels=48, kernel_size=3, dense=32),
    "deep": dict(channels=96, kernel_size=3, dense=64),
}


def derived(cfg: TCNConfig) -> dict:
    return {"levels": cfg.levels, "receptive_field": cfg.receptive_field}


def search_space(trial) -> dict:
    """Width, kernel (depth follows: enough blocks to cover the window) and dropout for `atb tune`."""
    return dict(channels=trial.suggest_categorical("channels", [16, 24, 32, 48, 64, 96]),
                kernel_size=trial.suggest_categorical("kernel_size", [2, 3, 5]),
                dense=trial.suggest_categorical("dense", [16, 32, 64]),
                dropout=trial.suggest_float("dropout", 0.0, 0.4))


# The receptive field is also shown with the training parameters: it must cover --sequence-length.
SPEC = ArchitectureSpec(config=TCNConfig, model=TCN, variants=VARIANTS, derived=derived,
                        reported=("receptive_field",), search_space=search_space)
