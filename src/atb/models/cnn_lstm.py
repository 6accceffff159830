"""CNN-LSTM (the baseline): Conv1D feature extractors and pooling, a stacked LSTM, a dense head."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from atb.models.spec import ArchitectureSpec


@dataclass
class CNNLSTMConfig:
    n_features: int
    conv_channels: tuple[int, ...] = (64,)
    kernel_size: int = 3
    lstm_hidden: int = 64
    lstm_layers: int = 2
    dense: int = 32
    dropout: float = 0.1

    def __post_init__(self) -> None:
        self.conv_channels = tuple(self.conv_channels)  # a list when read back from metadata.json


class CNNLSTM(nn.Module):
    def __init__(self, cfg: CNNLSTMConfig):
        super().__init__()
        layers: list[nn.Module] = []
        channels_in = cfg.n_features
        for channels in cfg.conv_channels:
            layers += [nn.Conv1d(channels_in, channels, cfg.kernel_size, padding=cfg.kernel_size // 2), nn.ReLU()]
            channels_in = channels
        # Halves the sequence the LSTM has to walk; ceil_mode keeps the newest step when the length is odd
        # (floor mode would drop it: the model would never see the last closed candle).
        layers.append(nn.MaxPool1d(2, ceil_mode=True))
        self.extractor = nn.Sequential(*layers)
        self.lstm = nn.LSTM(
            channels_in, cfg.lstm_hidden, num_layers=cfg.lstm_layers, batch_first=True,
            dropout=cfg.dropout if cfg.lstm_layers > 1 else 0.0,
        )
        self.head = nn.Sequential(
            nn.Dropout(cfg.dropout), nn.Linear(cfg.lstm_hidden, cfg.dense), nn.ReLU(), nn.Linear(cfg.dense, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, sequence, features) -> (batch,) scaled next-bar log return."""
        h = self.extractor(x.transpose(1, 2)).transpose(1, 2)
        out, _ = self.lstm(h)
        return self.head(out[:, -1]).squeeze(-1)


VARIANTS = {
    "lightweight": dict(conv_channels=(32,), lstm_hidden=32, lstm_layers=1, dense=16),
    "default": dict(conv_channels=(64,), lstm_hidden=64, lstm_layers=2, dense=32),
    "deep": dict(conv_channels=(64, 128), lstm_hidden=128, lstm_layers=2, dense=64),
}


def search_space(trial) -> dict:
    """Width, depth and dropout for `atb tune` (the shared training parameters are in atb.tuning.space)."""
    conv = trial.suggest_categorical("conv_channels", [16, 32, 64, 128])
    return dict(conv_channels=(conv,), kernel_size=trial.suggest_categorical("kernel_size", [3, 5]),
                lstm_hidden=trial.suggest_categorical("lstm_hidden", [16, 32, 64, 128]),
                lstm_layers=trial.suggest_int("lstm_layers", 1, 3),
                dense=trial.suggest_categorical("dense", [16, 32, 64]),
                dropout=trial.suggest_float("dropout", 0.0, 0.4))


SPEC = ArchitectureSpec(config=CNNLSTMConfig, model=CNNLSTM, variants=VARIANTS, search_space=search_space)
