"""A seeded synthetic market, for offline runs and tests. Never mistaken for a real one: every frame
it makes carries ``attrs["source"] = "synthetic"`` and every report that uses it says so.

Returns follow an AR(1)-GARCH(1,1) process with Student-t innovations: volatility clusters, tails are
fat, and ``ar_coef`` sets how much of the next return is predictable from the last one (0 makes a
martingale that no model can beat).
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from atb.data.candles import COLUMNS
from atb.data.sources import SYNTHETIC
from atb.data.timeframes import timeframe_delta, timeframe_seconds
from atb.errors import DataError

SYNTHETIC_END = pd.Timestamp("2025-01-01T00:00:00Z")  # fixed, so a seed always gives the same market
SOURCE_LABEL = SYNTHETIC
# Every request is cut from the tail of one path of at least this many bars, so that asking for fewer
# candles gives the same market (the same prices at the same times), only a shorter stretch of it.
MIN_PATH_BARS = 60_000


def synthetic_candles(
    bars: int,
    *,
    symbol: str = "SYNTH",
    timeframe: str = "1h",
    seed: int = 7,
    ar_coef: float = 0.1,
    end: pd.Timestamp = SYNTHETIC_END,
    start_price: float = 30_000.0,
) -> pd.DataFrame:
    """``bars`` consecutive candles whose last opens at ``end`` (at most the market's fixed end).

    The market is one timeline ending at ``SYNTHETIC_END``: an earlier ``end`` cuts an earlier stretch
    of the same prices, so walk-forward folds see different candles, not the same ones relabelled.
    """
    step = timeframe_delta(timeframe)
    if end > SYNTHETIC_END:
        raise DataError(f"the synthetic market ends at {SYNTHETIC_END:%Y-%m-%d %H:%M} UTC; use an earlier end date")
    offset = int((SYNTHETIC_END - end) / step)  # candles after `end`, up to the market's end
    total = max(bars + offset, MIN_PATH_BARS)
    path = _path(total, symbol, timeframe, seed, ar_coef, SYNTHETIC_END, start_price)
    frame = path.iloc[total - offset - bars : total - offset].reset_index(drop=True)
    frame.attrs["source"] = SOURCE_LABEL
    return frame


def _path(bars: int, symbol: str, timeframe: str, seed: int, ar_coef: float, end: pd.Timestamp,
          start_price: float) -> pd.DataFrame:
    # The symbol enters the seed so that two synthetic symbols are two different markets.
    rng = np.random.default_rng([seed, zlib.crc32(symbol.encode())])
    scale = np.sqrt(timeframe_seconds(timeframe) / 3600)  # volatility grows with the bar length
    omega, alpha, beta, dof = 2e-7 * scale**2, 0.08, 0.9, 4.0
    eps = rng.standard_t(dof, size=bars) / np.sqrt(dof / (dof - 2))
    returns = [0.0] * bars
    var = omega / (1 - alpha - beta)
    prev = 0.0
    for t, e in enumerate(eps.tolist()):  # plain floats: this loop is the generator's whole cost
        shock = var**0.5 * e
        prev = returns[t] = ar_coef * prev + shock
        var = omega + alpha * shock * shock + beta * var
    returns = np.asarray(returns)

    close = start_price * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[start_price], close[:-1]])
    wick = np.abs(rng.normal(0, 1, (2, bars))) * np.abs(returns) * 0.6
    wick += np.abs(rng.normal(0, 2e-4, (2, bars)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    volume = 50 * np.exp(rng.normal(0, 0.3, bars)) * (1 + 200 * np.abs(returns))

    step = timeframe_delta(timeframe)
    times = pd.date_range(end=end, periods=bars, freq=step, tz="UTC").astype("datetime64[ns, UTC]")
    return pd.DataFrame(dict(zip(COLUMNS, [times, open_, high, low, close, volume], strict=True)))
