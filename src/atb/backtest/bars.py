"""The bars of a backtest, read from a predictions table (target_time, last_close, actual_close,
predicted_close): one row per scored target time, in time order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from atb.errors import DataError

COLUMNS = ("target_time", "last_close", "actual_close", "predicted_close")


@dataclass(frozen=True)
class Bars:
    target_time: pd.DatetimeIndex  # UTC
    last_close: np.ndarray  # close of the candle before the target (known when the position is decided)
    actual_close: np.ndarray  # close of the target candle
    predicted_close: np.ndarray

    def __len__(self) -> int:
        return len(self.last_close)

    @property
    def predicted_return(self) -> np.ndarray:
        """p_t = ln(predicted_close / last_close): the forecast that decides the position for bar t."""
        return np.log(self.predicted_close / self.last_close)

    @property
    def bar_return(self) -> np.ndarray:
        """Simple return of the market over bar t: actual_close / last_close - 1."""
        return self.actual_close / self.last_close - 1


def bars_from_frame(frame: pd.DataFrame, split: str) -> Bars:
    """Check a predictions table and take its columns; ``split`` names it in the one-line errors."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{split} predictions lack the column(s) {', '.join(missing)}; need {', '.join(COLUMNS)}")
    times = pd.to_datetime(frame["target_time"], utc=True, errors="coerce")
    if times.isna().any():
        bad = int(times.isna().sum())
        raise DataError(f"{split} predictions: {bad} target_time value(s) are missing or unreadable")
    if not times.is_monotonic_increasing or times.duplicated().any():
        raise DataError(f"{split} predictions are not in strictly increasing target_time order")
    prices = {}
    for column in COLUMNS[1:]:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            raise DataError(f"{split} predictions: {int(bad.sum())} {column} value(s) are missing, infinite or <= 0")
        prices[column] = values
    return Bars(pd.DatetimeIndex(times), prices["last_close"], prices["actual_close"], prices["predicted_close"])
