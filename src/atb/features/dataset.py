"""From candles to model-ready arrays: valid windows, the chronological split, train-only scaling.

A sample is identified by its *anchor* row t: the window is rows t-L+1..t, the target is the log return
from close[t] to close[t+h]. A window exists only where those L rows and the target candle form one
run of consecutive candles, so no window or label ever spans a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from atb.data.candles import segment_ids
from atb.errors import DataError
from atb.features.indicators import FEATURES, WARMUP_BARS, compute_features
from atb.features.scaler import Scaler

SPLITS = ("train", "validation", "test")
MIN_SPLIT_WINDOWS = 8


@dataclass
class Dataset:
    features: np.ndarray  # (rows, n_features) float32, scaled with the train-only scaler
    targets: np.ndarray  # (rows,) float32 scaled target at each anchor row; NaN where undefined
    anchors: dict[str, np.ndarray]  # split name -> anchor row indices, ascending
    open_time: pd.Series
    close: np.ndarray
    scaler: Scaler
    sequence_length: int
    horizon: int
    feature_names: list[str]

    def split_info(self, name: str) -> dict:
        idx = self.anchors[name]
        times = self.open_time.iloc[idx + self.horizon]  # target times
        return {"start": _iso(times.iloc[0]), "end": _iso(times.iloc[-1]), "n": int(len(idx))}

    def target_times(self, name: str) -> pd.Series:
        return self.open_time.iloc[self.anchors[name] + self.horizon].reset_index(drop=True)


def valid_anchors(candles: pd.DataFrame, feats: np.ndarray, timeframe: str, length: int, horizon: int) -> np.ndarray:
    """Rows t whose window t-L+1..t has finite features and whose target t+h is in the same run."""
    n = len(candles)
    seg = segment_ids(candles["open_time"], timeframe)
    finite = np.isfinite(feats).all(axis=1)
    # Count of finite rows in each trailing window of length L, via a cumulative sum.
    csum = np.concatenate([[0], np.cumsum(finite)])
    t = np.arange(length - 1, n - horizon)
    full_window = (csum[t + 1] - csum[t + 1 - length]) == length
    same_run = (seg[t - length + 1] == seg[t]) & (seg[t + horizon] == seg[t])
    return t[full_window & same_run]


def build_dataset(
    candles: pd.DataFrame,
    timeframe: str,
    *,
    sequence_length: int,
    first_target_time: pd.Timestamp,
    horizon: int = 1,
    fractions: tuple[float, float, float] = (0.70, 0.15, 0.15),
    test_start: pd.Timestamp | None = None,
    features: Sequence[str] = tuple(FEATURES),
) -> Dataset:
    """``test_start``: the test split is every window whose target time is at or after it (a walk-forward
    fold's explicit test interval); without it, the last ``fractions[2]`` of the windows by count.
    ``features``: the model's input columns (a feature set's, atb.features.sets)."""
    frame = compute_features(candles, timeframe)
    close = candles["close"].to_numpy(np.float64)
    # Windows are checked on every feature, used or not: models of different feature sets share their windows.
    anchors = valid_anchors(candles, frame[FEATURES].to_numpy(np.float64), timeframe, sequence_length, horizon)
    raw = frame[list(features)].to_numpy(np.float64)
    target_ns = candles["open_time"].astype("int64").to_numpy()[anchors + horizon]
    keep = target_ns >= pd.Timestamp(first_target_time).value
    anchors, target_ns = anchors[keep], target_ns[keep]
    test_from = None if test_start is None else int(np.searchsorted(target_ns, pd.Timestamp(test_start).value))
    splits = split_anchors(anchors, fractions, horizon, test_from)

    targets = np.full(len(candles), np.nan)
    targets[anchors] = np.log(close[anchors + horizon] / close[anchors])
    # Fit on every candle a training window can see (rows up to the last training anchor), nothing later.
    last_train = splits["train"][-1]
    fit_rows = np.arange(last_train + 1)
    scaler = Scaler.fit(raw[fit_rows], targets[splits["train"]], list(features))
    return Dataset(
        features=scaler.transform(raw),
        targets=(targets / scaler.target_std).astype(np.float32),
        anchors=splits,
        open_time=candles["open_time"].reset_index(drop=True),
        close=close,
        scaler=scaler,
        sequence_length=sequence_length,
        horizon=horizon,
        feature_names=list(features),
    )


def split_anchors(anchors: np.ndarray, fractions: tuple[float, float, float], horizon: int,
                  test_from: int | None = None) -> dict[str, np.ndarray]:
    """Chronological train/validation/test split with a purge of horizon-1 samples between parts.

    ``test_from``: the position in ``anchors`` where an explicit test split begins. The anchors before it
    whose label would reach into the first test window's candles are purged, and the rest are split
    train/validation in the ratio fractions[0]:fractions[1] (by count, like the default split).
    """
    n = len(anchors)
    purge = horizon - 1
    if test_from is None:
        n_train = int(n * fractions[0])
        n_val = int(n * fractions[1])
        parts = {
            "train": anchors[:n_train],
            "validation": anchors[n_train + purge : n_train + n_val],
            "test": anchors[n_train + n_val + purge :],
        }
    else:
        test = anchors[test_from:]
        before = anchors[:test_from]
        if len(test):  # by row, not by count: a gap before the test may already separate the labels
            before = before[before + horizon <= test[0]]
        n_train = int(round(len(before) * fractions[0] / (fractions[0] + fractions[1])))
        parts = {"train": before[:n_train], "validation": before[n_train + purge :], "test": test}
    small = {k: len(v) for k, v in parts.items() if len(v) < MIN_SPLIT_WINDOWS}
    if small:
        needed = int(np.ceil(MIN_SPLIT_WINDOWS / min(fractions))) + 2 * purge
        raise DataError(
            f"too few usable windows: {n} in the requested span ({', '.join(f'{k} {v}' for k, v in small.items())}); "
            f"at least {needed} are needed ({MIN_SPLIT_WINDOWS} per split). Ask for more --days, a shorter "
            "--sequence-length, or data with fewer gaps."
        )
    return parts


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def history_bars_needed(sequence_length: int) -> int:
    """Candles needed before the first target: indicator warm-up plus one full window."""
    return WARMUP_BARS + sequence_length + 1

