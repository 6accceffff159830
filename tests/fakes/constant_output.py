"""A broken architecture for the doctor's tests: its output is a learned constant that ignores the window (a
model that trains, exports and scores, and has learnt nothing from its input)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from atb.models.spec import ArchitectureSpec


@dataclass
class ConstantOutputConfig:
    n_features: int
    width: int = 1  # unused: the variants need a field to differ in


class ConstantOutput(nn.Module):
    def __init__(self, cfg: ConstantOutputConfig):
        super().__init__()
        self.level = nn.Parameter(torch.zeros(cfg.width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1, 0] * 0 + self.level.mean()  # the input only lends its batch size


VARIANTS = {"lightweight": dict(width=1), "default": dict(width=2), "deep": dict(width=4)}

SPEC = ArchitectureSpec(config=ConstantOutputConfig, model=ConstantOutput, variants=VARIANTS)
