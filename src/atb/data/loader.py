"""``load_market``: the one function training calls to get candles, whatever their source.

It returns the requested target span (its last ``target_bars`` candles, or every candle from
``start`` to ``end``) preceded by ``history_bars`` candles for indicator warm-up. Counts are in
candles, not in clock time: where the data has gaps, the history reaches further back.
"""

from __future__ import annotations

import pandas as pd

from atb.data import exchange as exchange_source
from atb.data.candles import ceil_time, floor_time, last_closed_open_time, to_utc
from atb.data.exchange import DownloadProgress
from atb.data.files import read_candle_file
from atb.data.symbols import normalize_symbol
from atb.data.synthetic import SYNTHETIC_END, synthetic_candles
from atb.data.timeframes import timeframe_delta
from atb.errors import DataError, UsageError

SOURCES = ("exchange", "file", "synthetic")
_MAX_EXTENSIONS = 8  # times the exchange history is pushed back to make up for gaps


def check_source(source: str) -> None:
    if source not in SOURCES:
        raise UsageError(f"unknown data source {source!r}; use one of: {', '.join(SOURCES)}")


def load_market(
    source: str,
    symbol: str,
    timeframe: str,
    *,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    history_bars: int,
    target_bars: int,
    data_file: str | None = None,
    exchange: str = "binance",
    seed: int = 7,
    progress: DownloadProgress | None = None,
    ar_coef: float = 0.1,
) -> pd.DataFrame:
    """Candles for training: ``history_bars`` of warm-up, then the target span.

    source "exchange": end defaults to the last closed candle; the cache is used and filled.
    source "file": ``data_file`` is read; end defaults to its last candle.
    source "synthetic": the seeded synthetic market; end defaults to its fixed end.
    ``frame.attrs["source"]`` says which ("exchange:binance", "file:NAME", "synthetic").
    """
    check_source(source)
    if history_bars < 0:
        raise UsageError(f"history_bars must be >= 0, got {history_bars}")
    if start is None and target_bars < 1:
        raise UsageError(f"target_bars must be >= 1, got {target_bars}")
    timeframe_delta(timeframe)  # UsageError for an unknown timeframe
    symbol = normalize_symbol(symbol)
    start = to_utc(start) if start is not None else None
    end = to_utc(end) if end is not None else None
    if start is not None and end is not None and start > end:
        raise UsageError(f"start {start:%Y-%m-%d %H:%M} is after end {end:%Y-%m-%d %H:%M}")

    if source == "synthetic":
        frame = _synthetic(symbol, timeframe, start, end, history_bars, target_bars, seed, ar_coef)
    elif source == "file":
        frame = _from_file(data_file, timeframe, start, end, history_bars, target_bars)
    else:
        frame = _from_exchange(exchange, symbol, timeframe, start, end, history_bars, target_bars, progress)
    return frame


def select_span(candles: pd.DataFrame, *, start: pd.Timestamp | None, end: pd.Timestamp,
                history_bars: int, target_bars: int, what: str) -> pd.DataFrame:
    """The last candles up to ``end``: the target span plus ``history_bars`` before it."""
    upto = candles[candles["open_time"] <= end]
    if start is not None:
        targets = int((upto["open_time"] >= start).sum())
        if targets == 0:
            raise DataError(f"{what} has no candles between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M}")
    else:
        targets = target_bars
    needed = targets + history_bars
    if len(upto) < needed:
        raise DataError(
            f"{what}: {needed} candles needed ({targets} target + {history_bars} history) up to "
            f"{end:%Y-%m-%d %H:%M}, but only {len(upto)} exist"
        )
    frame = upto.iloc[len(upto) - needed:].reset_index(drop=True)
    frame.attrs = dict(candles.attrs)
    return frame


def _synthetic(symbol: str, timeframe: str, start: pd.Timestamp | None, end: pd.Timestamp | None,
               history_bars: int, target_bars: int, seed: int, ar_coef: float) -> pd.DataFrame:
    end = floor_time(end, timeframe) if end is not None else SYNTHETIC_END
    if start is not None:
        first = ceil_time(start, timeframe)
        if first > end:
            raise DataError(f"no {timeframe} candle opens between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M}")
        target_bars = int((end - first) / timeframe_delta(timeframe)) + 1
    return synthetic_candles(history_bars + target_bars, symbol=symbol, timeframe=timeframe, seed=seed,
                             ar_coef=ar_coef, end=end)


def _from_file(data_file: str | None, timeframe: str, start: pd.Timestamp | None, end: pd.Timestamp | None,
               history_bars: int, target_bars: int) -> pd.DataFrame:
    if not data_file:
        raise UsageError("the file data source needs a file: --data-file FILE")
    candles = read_candle_file(data_file, timeframe)
    end = end if end is not None else candles["open_time"].iloc[-1]
    frame = select_span(candles, start=start, end=end, history_bars=history_bars,
                        target_bars=target_bars, what=str(data_file))
    frame.attrs["source"] = candles.attrs["source"]
    return frame


def _from_exchange(exchange: str, symbol: str, timeframe: str, start: pd.Timestamp | None,
                   end: pd.Timestamp | None, history_bars: int, target_bars: int,
                   progress: DownloadProgress | None) -> pd.DataFrame:
    step = timeframe_delta(timeframe)
    closed = last_closed_open_time(timeframe)
    end = min(floor_time(end, timeframe), closed) if end is not None else closed
    first_target = ceil_time(start, timeframe) if start is not None else end - (target_bars - 1) * step
    margin = max(10, (history_bars + target_bars) // 20)  # a little extra for gaps, usually enough
    fetch_from = first_target - (history_bars + margin) * step
    have = -1
    what = f"{exchange} {symbol} {timeframe}"
    for _ in range(_MAX_EXTENSIONS):
        candles = exchange_source.load_exchange_candles(exchange, symbol, timeframe, fetch_from, end, progress=progress)
        try:
            frame = select_span(candles, start=start, end=end, history_bars=history_bars,
                                target_bars=target_bars, what=what)
        except DataError:
            targets = int((candles["open_time"] >= start).sum()) if start is not None else target_bars
            if targets == 0 or len(candles) <= have:  # further back found nothing more: listing starts here
                raise
            have = len(candles)
            deficit = targets + history_bars - len(candles)
            fetch_from -= (2 * deficit + margin) * step  # gaps: reach further back, generously
            continue
        frame.attrs["source"] = f"exchange:{exchange}"
        return frame
    raise DataError(f"{what}: could not gather {history_bars} candles of history before the target span")
