"""The variants table and the one place that turns (architecture, variant) into a model."""

from __future__ import annotations

from dataclasses import asdict

from torch import nn

from atb.errors import UsageError
from atb.models.attention_lstm import AttentionLSTM, AttentionLSTMConfig
from atb.models.cnn_lstm import CNNLSTM, CNNLSTMConfig
from atb.models.tcn import TCN, TCNConfig

ARCHITECTURES = ("cnn_lstm", "attention_lstm", "tcn")
VARIANTS = ("lightweight", "default", "deep")
BASELINE = "cnn_lstm"

# Sizes per variant; parameter counts grow strictly lightweight < default < deep (a test checks).
VARIANT_TABLE: dict[str, dict[str, dict]] = {
    "cnn_lstm": {
        "lightweight": dict(conv_channels=(32,), lstm_hidden=32, lstm_layers=1, dense=16),
        "default": dict(conv_channels=(64,), lstm_hidden=64, lstm_layers=2, dense=32),
        "deep": dict(conv_channels=(64, 128), lstm_hidden=128, lstm_layers=2, dense=64),
    },
    "attention_lstm": {
        "lightweight": dict(hidden=32, lstm_layers=1, attention=16, dense=16),
        "default": dict(hidden=64, lstm_layers=2, attention=32, dense=32),
        "deep": dict(hidden=128, lstm_layers=3, attention=64, dense=64),
    },
    "tcn": {
        "lightweight": dict(channels=24, kernel_size=3, dense=16),
        "default": dict(channels=48, kernel_size=3, dense=32),
        "deep": dict(channels=96, kernel_size=3, dense=64),
    },
}


def check_choice(architecture: str, variant: str) -> None:
    if architecture not in ARCHITECTURES:
        raise UsageError(f"unknown model type {architecture!r}; choose one of: {', '.join(ARCHITECTURES)}")
    if variant not in VARIANTS:
        raise UsageError(f"unknown model variant {variant!r}; choose one of: {', '.join(VARIANTS)}")


def model_config(architecture: str, variant: str, n_features: int, sequence_length: int) -> dict:
    """The full constructor arguments; saved in metadata.json so the weights can be rebuilt."""
    check_choice(architecture, variant)
    sizes = VARIANT_TABLE[architecture][variant]
    if architecture == "cnn_lstm":
        cfg = CNNLSTMConfig(n_features=n_features, **sizes)
    elif architecture == "attention_lstm":
        cfg = AttentionLSTMConfig(n_features=n_features, **sizes)
    else:
        cfg = TCNConfig(n_features=n_features, sequence_length=sequence_length, **sizes)
    out = asdict(cfg)
    if isinstance(cfg, TCNConfig):
        out["levels"] = cfg.levels
        out["receptive_field"] = cfg.receptive_field
    return out


def build_model(architecture: str, config: dict) -> nn.Module:
    args = {k: v for k, v in config.items() if k not in ("levels", "receptive_field")}
    if architecture == "cnn_lstm":
        return CNNLSTM(CNNLSTMConfig(**{**args, "conv_channels": tuple(args["conv_channels"])}))
    if architecture == "attention_lstm":
        return AttentionLSTM(AttentionLSTMConfig(**args))
    if architecture == "tcn":
        return TCN(TCNConfig(**args))
    raise UsageError(f"unknown model type {architecture!r}; choose one of: {', '.join(ARCHITECTURES)}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
