"""Batch predictions (`atb predict SYMBOL --start D --end D`): every target time of a range forecast in ONNX
batches, with the features and window checks of the live path (inference.forecaster), written as a
predictions table: target_time, last_close, predicted_close, actual_close (NaN where not known yet)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from atb.data.candles import ceil_time
from atb.errors import DataError
from atb.inference.forecaster import OnnxForecaster


@dataclass(frozen=True)
class BatchForecasts:
    frame: pd.DataFrame
    version: str
    first: pd.Timestamp  # the range of target times asked for
    last: pd.Timestamp
    skipped: int  # target times in the range with a candle but no complete window (a gap before them)


def batch_forecasts(model: OnnxForecaster, candles: pd.DataFrame, first: pd.Timestamp,
                    last: pd.Timestamp) -> BatchForecasts:
    """``candles``: the range and the history before it (inference.candles.candles_between)."""
    first = ceil_time(first, model.timeframe)
    if first > last:
        raise DataError(f"no {model.timeframe} target time between {first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M}")
    frame = model.forecast_frame(candles, first, last)
    if frame.empty:
        raise DataError(f"no complete window for any target time between {first:%Y-%m-%d %H:%M} and "
                        f"{last:%Y-%m-%d %H:%M} UTC: the data lacks those candles or the {model.min_candles} "
                        f"consecutive ones before them")
    times = candles["open_time"]
    in_range = int(((times >= first) & (times <= last)).sum())
    skipped = in_range - int(frame["actual_close"].notna().sum())
    return BatchForecasts(frame, model.version, first, last, max(0, skipped))


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Written beside the target and renamed into place: a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"cannot write {path}: {exc.strerror or exc}") from None
