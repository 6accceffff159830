"""TCN+Attention: the TCN's causal dilated encoder (its residual blocks, imported), then multi-head
self-attention over the encoder's outputs with a causal mask (step t attends to steps <= t); the last step's
encoder state and its attention context, side by side, go into the head.

The causal mask is an additive buffer (0 on and below the diagonal, -inf above), built once for the window
length: in ONNX it is a constant added to the scores. ``scaled_dot_product_attention(is_causal=True)`` exports
to Trilu/Equal/Where ops instead and ran slower in ONNX Runtime (default variant, one window, 15 alternating
rounds: 0.083 ms additive buffer, 0.085 ms SDPA with the buffer as attn_mask, 0.091 ms is_causal). The query,
key and value projections are one linear layer (one MatMul in the graph instead of three; the same arithmetic).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from atb.models.spec import ArchitectureSpec
from atb.models.tcn import TCN, TCNConfig


@dataclass
class TCNAttentionConfig:
    n_features: int
    sequence_length: int
    channels: int = 48
    kernel_size: int = 3
    heads: int = 4
    dense: int = 32
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.channels % self.heads:
            raise ValueError(f"channels ({self.channels}) must be a multiple of heads ({self.heads})")

    @property
    def encoder(self) -> TCNConfig:
        return TCNConfig(self.n_features, self.sequence_length, self.channels, self.kernel_size,
                         dropout=self.dropout)

    @property
    def receptive_field(self) -> int:
        return self.encoder.receptive_field


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention over (batch, sequence, channels), each step seeing itself and the past only."""

    def __init__(self, channels: int, heads: int, length: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = nn.Linear(channels, channels)
        mask = torch.full((length, length), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)  # rebuilt from the config, never saved

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, t, c = h.shape
        d = c // self.heads
        q, k, v = self.qkv(h).view(b, t, 3, self.heads, d).permute(2, 0, 3, 1, 4)  # each (b, heads, t, d)
        scores = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(d)) + self.mask[:t, :t]
        context = torch.softmax(scores, dim=-1) @ v  # (b, heads, t, d)
        return self.out(context.transpose(1, 2).reshape(b, t, c))


class TCNAttention(nn.Module):
    def __init__(self, cfg: TCNAttentionConfig):
        super().__init__()
        self.blocks = TCN(cfg.encoder).blocks  # the TCN's residual blocks; its head is not used
        self.attention = CausalSelfAttention(cfg.channels, cfg.heads, cfg.sequence_length)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(2 * cfg.channels, cfg.dense), nn.ReLU(),
                                  nn.Linear(cfg.dense, 1))

    def states(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per step: the encoder's states and their attention contexts, both (batch, sequence, channels)."""
        h = self.blocks(x.transpose(1, 2).unsqueeze(2))[:, :, 0].transpose(1, 2)
        return h, self.attention(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, sequence, features) -> (batch,) scaled next-bar log return."""
        h, context = self.states(x)
        return self.head(torch.cat([h[:, -1], context[:, -1]], dim=-1)).squeeze(-1)


VARIANTS = {
    "lightweight": dict(channels=24, kernel_size=3, heads=2, dense=16),
    "default": dict(channels=48, kernel_size=3, heads=4, dense=32),
    "deep": dict(channels=96, kernel_size=3, heads=4, dense=64),
}


def derived(cfg: TCNAttentionConfig) -> dict:
    return {"levels": cfg.encoder.levels, "receptive_field": cfg.receptive_field}


def search_space(trial) -> dict:
    """Width, heads, kernel and dropout for `atb tune`; channels are multiples of every heads choice (8)."""
    return dict(channels=trial.suggest_categorical("channels", [16, 24, 32, 48, 64, 96]),
                heads=trial.suggest_categorical("heads", [1, 2, 4, 8]),
                kernel_size=trial.suggest_categorical("kernel_size", [2, 3, 5]),
                dense=trial.suggest_categorical("dense", [16, 32, 64]),
                dropout=trial.suggest_float("dropout", 0.0, 0.4))


# As for the TCN: the encoder's receptive field is shown with the training parameters.
SPEC = ArchitectureSpec(config=TCNAttentionConfig, model=TCNAttention, variants=VARIANTS, derived=derived,
                        reported=("receptive_field",), search_space=search_space)
