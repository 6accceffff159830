"""What one training run is asked to do, with every default in one place: the CLI's options, the benchmark and
the tests read them from here. Importing this module is cheap (no pandas, no torch): `atb --help` shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from atb.errors import UsageError
from atb.models import registry as architectures
from atb.registry.store import is_synthetic_folder, market_symbol

if TYPE_CHECKING:
    import pandas as pd

LOSSES = ("mse", "huber")


@dataclass
class TrainRequest:
    symbol: str
    architecture: str = architectures.baseline().name
    variant: str = "default"
    days: float | None = 30
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    # An explicit test interval [test_start, end] of target times (a benchmark fold); the rest of the span
    # before it is split train/validation 70:15. None: the usual 70/15/15 split by count.
    test_start: pd.Timestamp | None = None
    timeframe: str = "1h"
    epochs: int = 20
    batch_size: int | None = None  # None: the device's default (32 on CPU, 512 on CUDA)
    sequence_length: int = 60
    learning_rate: float = 1e-3
    patience: int = 5
    seed: int = 42
    device: str = "auto"
    data_source: str = "exchange"
    data_file: str | None = None
    exchange: str = "binance"
    models_dir: Path | None = None
    horizon: int = 1
    loss: str = "mse"
    features: str = "all"  # a feature set (atb.features.sets): "all", or groups joined with "+", e.g. returns+volume
    synthetic_ar_coef: float = 0.1
    synthetic_seed: int = 7  # the market's seed; --seed changes the model's initialisation only
    threads: int | None = None  # CPU threads for torch; None: ATB_THREADS or 1 (training.device)
    log_to_db: bool = True
    # Architecture config fields over the variant's (a tuned configuration, atb tune); in metadata's model_config
    model_config: dict | None = None
    extra: dict = field(default_factory=dict)  # recorded in metadata (e.g. the benchmark's fold)

    def validate(self) -> None:
        # Deferred: both import pandas, which `atb --help` must not pay for.
        from atb.data.loader import check_source
        from atb.data.timeframes import timeframe_seconds
        from atb.features.sets import parse_feature_set

        self.features = parse_feature_set(self.features)  # canonical from here on: it names the set in metadata

        architectures.check(self.architecture, self.variant)
        timeframe_seconds(self.timeframe)
        check_source(self.data_source)
        if is_synthetic_folder(self.symbol):
            market = market_symbol(self.symbol)
            raise UsageError(f"{self.symbol} is a registry folder, not a market: train {market} with --data-source "
                             f"synthetic (models of the synthetic market are registered under {self.symbol})")
        if self.data_source == "file" and not self.data_file:
            raise UsageError("--data-source file needs --data-file PATH")
        if self.start is None and (self.days is None or self.days <= 0):
            raise UsageError("--days must be positive (e.g. --days 30), or give --start-date")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise UsageError(f"--start-date {self.start:%Y-%m-%d} is not before --end-date {self.end:%Y-%m-%d}")
        if self.test_start is not None and self.end is not None and self.test_start > self.end:
            raise UsageError(f"the test interval starts at {self.test_start:%Y-%m-%d %H:%M}, after the end "
                             f"{self.end:%Y-%m-%d %H:%M}")
        for name, value, low in (("epochs", self.epochs, 1), ("sequence-length", self.sequence_length, 2),
                                 ("patience", self.patience, 1), ("horizon", self.horizon, 1)):
            if value < low:
                raise UsageError(f"--{name} must be at least {low} (got {value})")
        if self.batch_size is not None and self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1 (got {self.batch_size})")
        if not self.learning_rate > 0:
            raise UsageError(f"--learning-rate must be positive (got {self.learning_rate})")
        if self.loss not in LOSSES:
            raise UsageError(f"unknown loss {self.loss!r}; use {' or '.join(LOSSES)}")
