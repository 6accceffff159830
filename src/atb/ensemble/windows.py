"""The ensemble's input: windows of RAW features (atb.features.indicators, unscaled) of the longest member's
length, cut from the members' own candles at their validation and test target times.

The candles are loaded as the member with the longest history loaded them (its data source, first and last
candle), so its features are the very values it was trained and scored on; the other members started their
indicators a few bars later, which changes nothing that reaches a scored window (the warm-up is long past).
Before any window is cut, the candles must reproduce every member's last and actual close at every target time:
a different file (or a cache that changed) is refused in one line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atb.data.loader import load_market
from atb.data.timeframes import timeframe_delta
from atb.errors import DataError, UsageError
from atb.features.indicators import FEATURES, compute_features
from atb.registry.metadata import SyntheticParams, VersionMetadata
from atb.training.request import TrainRequest


def load_candles(meta: VersionMetadata, data_file: str | None = None) -> pd.DataFrame:
    """The candles of a member's run: its source, from its first to its last candle."""
    tp, data = meta.training_params, meta.data
    source = "synthetic" if meta.synthetic else (tp.data_source or "exchange")
    if source == "file" and not data_file:
        raise UsageError(f"{meta.version_id} was trained on {data.source or 'a candle file'}: give that file with "
                         "--data-file PATH (the ensemble's windows are cut from the members' candles)")
    if data_file and source != "file":
        source = "file"  # the user's file stands in for the exchange or its cache; the closes are checked below
    first, last = (pd.Timestamp(t) for t in (data.first_candle, data.last_candle))
    synthetic = data.synthetic_params or SyntheticParams(seed=TrainRequest.synthetic_seed,
                                                         ar_coef=TrainRequest.synthetic_ar_coef)
    return load_market(source, meta.symbol, tp.timeframe, start=first, end=last, history_bars=0, target_bars=0,
                       data_file=data_file, exchange=tp.exchange or TrainRequest.exchange, seed=synthetic.seed,
                       ar_coef=synthetic.ar_coef)


def anchor_rows(candles: pd.DataFrame, rows: pd.DataFrame, horizon: int, timeframe: str) -> np.ndarray:
    """The candle row of each target time's last close (``horizon`` bars before it); DataError unless the candles
    hold the target times and reproduce the rows' last and actual closes (``rows``: target_time, last_close,
    actual_close)."""
    times = candles["open_time"]
    targets = pd.DatetimeIndex(pd.to_datetime(rows["target_time"], utc=True))
    pos = times.searchsorted(targets)
    label = candles.attrs.get("source", "the candles")
    found = (pos < len(times)) & (times.to_numpy()[np.minimum(pos, len(times) - 1)] == targets.to_numpy())
    anchors = pos - horizon
    if not found.all() or (anchors < 0).any():
        missing = targets[~found | (anchors < 0)][0]
        raise DataError(f"{label} lacks the candles of target time {missing:%Y-%m-%d %H:%M}: give the data the "
                        "members were trained on (--data-file)")
    step = timeframe_delta(timeframe) * horizon
    gap = times.iloc[anchors].to_numpy() != (targets - step).to_numpy()
    if gap.any():
        raise DataError(f"{label} has a gap before target time {targets[np.flatnonzero(gap)[0]]:%Y-%m-%d %H:%M}, "
                        "where the members had a candle: give the data the members were trained on (--data-file)")
    close = candles["close"].to_numpy(np.float64)
    for what, ours, theirs in (("last close", close[anchors], rows["last_close"]),
                               ("actual close", close[pos], rows["actual_close"])):
        theirs = theirs.to_numpy(np.float64)
        wrong = np.flatnonzero(~np.isclose(ours, theirs, rtol=1e-9, atol=0))
        if len(wrong):
            i = wrong[0]
            raise DataError(f"{label} differs from the members' candles at {targets[i]:%Y-%m-%d %H:%M}: {what} "
                            f"{ours[i]:g} vs the members' {theirs[i]:g}; give the data the members were trained on "
                            "(--data-file)")
    return anchors


def raw_windows(candles: pd.DataFrame, anchors: np.ndarray, length: int, timeframe: str) -> np.ndarray:
    """(n, length, features) float32: the raw features of the ``length`` candles ending at each anchor row, as
    `atb predict` hands them to an ensemble's model.onnx (its scaler.json is the identity)."""
    raw = compute_features(candles, timeframe)[FEATURES].to_numpy(np.float64)
    if (anchors < length - 1).any():
        raise DataError(f"the candles start too late for a {length}-candle window before every target time")
    index = anchors[:, None] + np.arange(-length + 1, 1)[None, :]
    windows = raw[index]
    if not np.isfinite(windows).all():
        raise DataError("a window of the members' target times spans a gap or the indicators' warm-up; the members "
                        "cannot have scored it (their candles differ from these)")
    return windows.astype(np.float32)
