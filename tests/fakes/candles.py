"""Synthetic hourly candles with holes (exchange outages), for walk-forward tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from atb.data.synthetic import synthetic_candles
from atb.features.dataset import valid_anchors
from atb.features.indicators import FEATURES, compute_features


def gappy_candle_file(folder: Path, holes: list[tuple[int, int]], bars: int = 1600) -> tuple[Path, pd.DataFrame]:
    """``bars`` synthetic BTCUSDT 1h candles less the rows [a, b) counted from the end; written as our CSV."""
    candles = synthetic_candles(bars, symbol="BTCUSDT")
    n = len(candles)
    drop = np.concatenate([np.arange(n - b, n - a) for a, b in holes])
    candles = candles.drop(index=drop).reset_index(drop=True)
    path = folder / "gappy.csv"
    candles.assign(open_time=candles["open_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    return path, candles


def valid_target_times(candles: pd.DataFrame, first: pd.Timestamp, sequence_length: int = 60) -> set:
    """Every target time from ``first`` on that has a valid window (no window or label spans a hole)."""
    feats = compute_features(candles, "1h")[FEATURES].to_numpy(np.float64)
    targets = candles["open_time"].iloc[valid_anchors(candles, feats, "1h", sequence_length, 1) + 1]
    return set(targets[targets >= first])
