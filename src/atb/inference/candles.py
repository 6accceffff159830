"""The newest candles for a forecast: from the cache, a file, or the synthetic market."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from atb.data.sources import cache_label
from atb.errors import DataError, UsageError

SOURCES = ("cache", "file", "synthetic")


def newest_candles(source: str, symbol: str, timeframe: str, bars: int, *, exchange: str = "binance",
                   data_file: Path | None = None, synthetic_seed: int = 7,
                   synthetic_ar_coef: float = 0.1) -> pd.DataFrame:
    candles = all_candles(source, symbol, timeframe, bars, exchange=exchange, data_file=data_file,
                          synthetic_seed=synthetic_seed, synthetic_ar_coef=synthetic_ar_coef)
    label = candles.attrs.get("source")
    candles = candles.iloc[-bars:].reset_index(drop=True)
    candles.attrs["source"] = label
    return candles


def candles_between(source: str, symbol: str, timeframe: str, first: pd.Timestamp, last: pd.Timestamp | None,
                    history_bars: int, **kw) -> pd.DataFrame:
    """The candles that open in [first, last] (None: to the newest), preceded by ``history_bars`` candles (fewer
    where the data begins later) for the indicators and the first window."""
    candles = all_candles(source, symbol, timeframe, None, **kw)
    label = candles.attrs.get("source")
    times = candles["open_time"]
    begin = max(0, int(times.searchsorted(first)) - history_bars)
    stop = len(times) if last is None else int(times.searchsorted(last, side="right"))
    candles = candles.iloc[begin:stop].reset_index(drop=True)
    candles.attrs["source"] = label
    return candles


def all_candles(source: str, symbol: str, timeframe: str, bars: int | None, *, exchange: str = "binance",
                data_file: Path | None = None, synthetic_seed: int = 7, synthetic_ar_coef: float = 0.1) -> pd.DataFrame:
    """Every candle the source holds (the synthetic market: its last ``bars``, or all of its fixed path)."""
    if source == "cache":
        from atb.data.cache import CacheKey, read_cache
        from atb.data.symbols import normalize_symbol

        cached = read_cache(CacheKey(exchange.lower(), normalize_symbol(symbol), timeframe))
        if cached is None or cached.candles.empty:
            raise DataError(
                f"no cached {symbol} {timeframe} candles for {exchange}; run 'atb data download {symbol} "
                f"--timeframe {timeframe} --days 7' or 'atb data import FILE --symbol {symbol} --timeframe "
                f"{timeframe}', or pass --data-file"
            )
        candles = cached.candles
        candles.attrs["source"] = cache_label(exchange, cached.imported_from)
    elif source == "file":
        from atb.data.files import read_candle_file

        candles = read_candle_file(data_file, timeframe)
    elif source == "synthetic":
        from atb.data.synthetic import MIN_PATH_BARS, synthetic_candles

        candles = synthetic_candles(bars or MIN_PATH_BARS, symbol=symbol, timeframe=timeframe,
                                    seed=synthetic_seed, ar_coef=synthetic_ar_coef)
    else:
        raise UsageError(f"unknown data source {source!r}; use {', '.join(SOURCES[:-1])} or {SOURCES[-1]}")
    return candles
