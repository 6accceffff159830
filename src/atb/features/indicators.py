"""Causal per-candle features: log returns, range and volume features, standard TA-Lib indicators.

Every value at row t uses candles up to and including t only (tests prove it by truncation). The
features are computed separately on each run of consecutive candles, so that no indicator bridges a
gap; the first ``WARMUP_BARS`` rows of each run are left NaN and never used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib

from atb.data.candles import segment_ids
from atb.features.sets import FEATURES  # the names and their groups are declared there

WARMUP_BARS = 60  # longest look-back below (SMA 50) plus slack for EMA/RSI seeding
TARGET = "log_return_1"  # the model forecasts the next candle's log return of close


def compute_features(candles: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """Feature frame aligned with ``candles`` (same length and order); NaN where not yet defined."""
    segments = segment_ids(candles["open_time"], timeframe)
    parts = []
    for seg in np.unique(segments):
        rows = np.flatnonzero(segments == seg)
        parts.append(_segment_features(candles.iloc[rows]))
    return pd.concat(parts).reindex(candles.index) if parts else pd.DataFrame(columns=FEATURES)


def _segment_features(c: pd.DataFrame) -> pd.DataFrame:
    o, h, lo, cl, v = (c[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume"))
    return pd.DataFrame(feature_matrix(o, h, lo, cl, v), index=c.index, columns=FEATURES)


def feature_matrix(o: np.ndarray, h: np.ndarray, lo: np.ndarray, cl: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The features of one run of consecutive candles, (rows, len(FEATURES)) in FEATURES order: the numpy core
    of compute_features, called directly by the prediction server (no pandas per request)."""
    log_close = np.log(cl)
    f: dict[str, np.ndarray] = {}
    for n in (1, 4, 24):
        f[f"log_return_{n}"] = _diff(log_close, n)
    f["hl_range"] = np.log(h / lo)
    f["body"] = np.log(cl / o)
    f["upper_wick"] = np.log(h / np.maximum(o, cl))
    f["lower_wick"] = np.log(np.minimum(o, cl) / lo)
    log_vol = np.log1p(v)
    f["log_volume_z"] = (log_vol - talib.SMA(log_vol, 24)) / (talib.STDDEV(log_vol, 24) + 1e-6)
    f["sma_ratio_10"] = cl / talib.SMA(cl, 10) - 1
    f["sma_ratio_50"] = cl / talib.SMA(cl, 50) - 1
    f["ema_ratio_12"] = cl / talib.EMA(cl, 12) - 1
    f["ema_ratio_26"] = cl / talib.EMA(cl, 26) - 1
    f["rsi_14"] = talib.RSI(cl, 14) / 100 - 0.5
    _, _, hist = talib.MACD(cl, 12, 26, 9)
    f["macd_hist"] = hist / cl
    upper, middle, lower = talib.BBANDS(cl, 20, 2.0, 2.0)
    f["bb_width_20"] = (upper - lower) / middle
    f["atr_14"] = talib.ATR(h, lo, cl, 14) / cl
    f["volatility_24"] = talib.STDDEV(f["log_return_1"], 24)
    matrix = np.column_stack([f[name] for name in FEATURES]) if len(cl) else np.empty((0, len(FEATURES)))
    matrix[:WARMUP_BARS] = np.nan  # indicator seeding is not finished yet
    return matrix


def _diff(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full_like(x, np.nan)
    out[n:] = x[n:] - x[:-n]
    return out
