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
        from atb.data.synthetic import synthetic_candles

        candles = synthetic_candles(bars, symbol=symbol, timeframe=timeframe, seed=synthetic_seed,
                                    ar_coef=synthetic_ar_coef)
    else:
        raise UsageError(f"unknown data source {source!r}; use {', '.join(SOURCES[:-1])} or {SOURCES[-1]}")
    label = candles.attrs.get("source")
    candles = candles.iloc[-bars:].reset_index(drop=True)
    candles.attrs["source"] = label
    return candles
