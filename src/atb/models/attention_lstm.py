"""Attention-LSTM, after Qlib's ALSTM: input projection, stacked LSTM, additive attention over time;
the attention context is concatenated with the last hidden state before the head."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from atb.models.spec import ArchitectureSpec


@dataclass
class AttentionLSTMConfig:
    n_features: int
    hidden: int = 64
    lstm_layers: int = 2
    attention: int = 32
    dense: int = 32
    dropout: float = 0.1


class AttentionLSTM(nn.Module):
    def __init__(self, cfg: AttentionLSTMConfig):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(cfg.n_features, cfg.hidden), nn.Tanh())
        self.lstm = nn.LSTM(
            cfg.hidden, cfg.hidden, num_layers=cfg.lstm_layers, batch_first=True,
            dropout=cfg.dropout if cfg.lstm_layers > 1 else 0.0,
        )
        # Additive (Bahdanau) scoring: score_t = v . tanh(W h_t)
        self.score = nn.Sequential(nn.Linear(cfg.hidden, cfg.attention), nn.Tanh(),
                                   nn.Linear(cfg.attention, 1, bias=False))
        self.head = nn.Sequential(
            nn.Dropout(cfg.dropout), nn.Linear(2 * cfg.hidden, cfg.dense), nn.ReLU(), nn.Linear(cfg.dense, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, sequence, features) -> (batch,) scaled next-bar log return."""
        out, _ = self.lstm(self.project(x))
        weights = torch.softmax(self.score(out), dim=1)  # (batch, sequence, 1)
        context = (weights * out).sum(dim=1)
        return self.head(torch.cat([context, out[:, -1]], dim=-1)).squeeze(-1)


VARIANTS = {
    "lightweight": dict(hidden=32, lstm_layers=1, attention=16, dense=16),
    "default": dict(hidden=64, lstm_layers=2, attention=32, dense=32),
    "deep": dict(hidden=128, lstm_layers=3, attention=64, dense=64),
}


def search_space(trial) -> dict:
    """Width, depth and dropout for `atb tune` (the shared training parameters are in atb.tuning.space)."""
    return dict(hidden=trial.suggest_categorical("hidden", [16, 32, 64, 128]),
                lstm_layers=trial.suggest_int("lstm_layers", 1, 3),
                attention=trial.suggest_categorical("attention", [8, 16, 32, 64]),
                dense=trial.suggest_categorical("dense", [16, 32, 64]),
                dropout=trial.suggest_float("dropout", 0.0, 0.4))


SPEC = ArchitectureSpec(config=AttentionLSTMConfig, model=AttentionLSTM, variants=VARIANTS,
                        search_space=search_space)
