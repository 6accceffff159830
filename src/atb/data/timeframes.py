"""Candle timeframes ("1m", "1h", "1d", ...) and their lengths."""

from __future__ import annotations

import pandas as pd

from atb.errors import UsageError

_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
SUPPORTED = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w")


def timeframe_seconds(timeframe: str) -> int:
    if timeframe not in SUPPORTED:
        raise UsageError(f"unknown timeframe {timeframe!r}; use one of: {', '.join(SUPPORTED)}")
    return int(timeframe[:-1]) * _UNIT_SECONDS[timeframe[-1]]


def timeframe_delta(timeframe: str) -> pd.Timedelta:
    return pd.Timedelta(seconds=timeframe_seconds(timeframe))


def bars_per_day(timeframe: str) -> float:
    return 86400 / timeframe_seconds(timeframe)
