"""A small architecture that atb does not ship: an MLP over the flattened window. It is the whole of what a new
architecture needs besides its one registry line (see tests/integration/test_new_architecture.py)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from atb.models.spec import ArchitectureSpec


@dataclass
class WindowMLPConfig:
    n_features: int
    sequence_length: int
    hidden: int = 8


class WindowMLP(nn.Module):
    def __init__(self, cfg: WindowMLPConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(cfg.sequence_length * cfg.n_features, cfg.hidden), nn.ReLU(),
                                 nn.Linear(cfg.hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, sequence, features) -> (batch,) scaled next-bar log return."""
        return self.net(x).squeeze(-1)


VARIANTS = {"lightweight": dict(hidden=4), "default": dict(hidden=8), "deep": dict(hidden=16)}

SPEC = ArchitectureSpec(config=WindowMLPConfig, model=WindowMLP, variants=VARIANTS)
