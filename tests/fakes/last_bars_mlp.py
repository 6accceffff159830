"""A tiny architecture for the doctor's tests: an MLP over the window's last few bars. It learns the doctor's
planted AR(1) signal in a second and exports in a moment, so a test can run the doctor's checks end to end."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from atb.models.spec import ArchitectureSpec


@dataclass
class LastBarsMLPConfig:
    n_features: int
    bars: int = 4
    hidden: int = 32


class LastBarsMLP(nn.Module):
    def __init__(self, cfg: LastBarsMLPConfig):
        super().__init__()
        self.bars = cfg.bars
        self.net = nn.Sequential(nn.Linear(cfg.bars * cfg.n_features, cfg.hidden), nn.Tanh(), nn.Linear(cfg.hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, sequence, features) -> (batch,) scaled next-bar log return."""
        return self.net(x[:, -self.bars:, :].flatten(1)).squeeze(-1)


VARIANTS = {"lightweight": dict(hidden=32), "default": dict(hidden=64), "deep": dict(hidden=128)}

SPEC = ArchitectureSpec(config=LastBarsMLPConfig, model=LastBarsMLP, variants=VARIANTS)
