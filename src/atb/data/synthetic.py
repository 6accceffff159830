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
from atb.data.timeframes import timeframe_delta, timeframe_seconds

SYNTHETIC_END = pd.Timestamp("2025-01-01T00:00:00Z")  # fixed, so a seed always gives the same market
SOURCE_LABEL = "synthetic"


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
    """``bars`` consecutive candles ending at ``end`` (open time of the last candle)."""
    # The symbol enters the seed so that two synthetic symbols are two different markets.
    rng = np.random.default_rng([seed, zlib.crc32(symbol.encode())])
    scale = np.sqrt(timeframe_seconds(timeframe) / 3600)  # volatility grows with the bar length
    omega, alpha, beta, dof = 2e-7 * scale**2, 0.08, 0.9, 4.0
    eps = rng.standard_t(dof, size=bars) / np.sqrt(dof / (dof - 2))
    returns = np.empty(bars)
    var = omega / (1 - alpha - beta)
    prev = 0.0
    for t in range(bars):
        shock = np.sqrt(var) * eps[t]
        returns[t] = ar_coef * prev + shock
        var = omega + alpha * shock**2 + beta * var
        prev = returns[t]

    close = start_price * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[start_price], close[:-1]])
    wick = np.abs(rng.normal(0, 1, (2, bars))) * np.abs(returns) * 0.6
    wick += np.abs(rng.normal(0, 2e-4, (2, bars)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    volume = 50 * np.exp(rng.normal(0, 0.3, bars)) * (1 + 200 * np.abs(returns))

    step = timeframe_delta(timeframe)
    times = pd.date_range(end=end, periods=bars, freq=step, tz="UTC").astype("datetime64[ns, UTC]")
    frame = pd.DataFrame(dict(zip(COLUMNS, [times, open_, high, low, close, volume], strict=True)))
    frame.attrs["source"] = SOURCE_LABEL
    return frame
