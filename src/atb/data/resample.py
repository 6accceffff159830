"""Longer candles from complete shorter ones: 4h from 1h, 1d from 1h or 4h, 1w from 1d ...

A longer bar is emitted only when every one of its constituent shorter bars exists: a 4h bar with a missing hour
is a gap, never a partial bar. Bars sit on the UTC grid the validator checks (4h opens at 00, 04, 08 ...; 1d at
00:00; 1w on Monday 00:00). open = the first open, high = the highest high, low = the lowest low, close = the last
close, volume = the sum.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from atb.data.candles import COLUMNS
from atb.data.timeframes import timeframe_delta, timeframe_seconds
from atb.errors import UsageError

log = logging.getLogger(__name__)

Span = tuple[pd.Timestamp, pd.Timestamp]


@dataclass(frozen=True)
class Resampled:
    candles: pd.DataFrame  # the longer bars, complete ones only
    source: str  # the shorter timeframe
    target: str  # the longer timeframe
    dropped: int  # longer bars left out because some of their shorter bars are missing (partial bars)
    per_bar: int  # shorter bars in one longer bar

    def summary(self) -> str:
        return (f"{len(self.candles):,} {self.target} bars from {self.source}; {self.dropped} partial bars dropped "
                f"(a missing {self.source} bar makes its {self.target} bar a gap)")


def check_pair(source: str, target: str) -> int:
    """How many `source` bars make one `target` bar; UsageError when `target` is not a whole multiple."""
    small, large = timeframe_seconds(source), timeframe_seconds(target)
    if large <= small or large % small:
        raise UsageError(f"cannot resample {source} to {target}: {target} must be a whole multiple of {source} "
                         "(e.g. --from 1h --to 4h)")
    return large // small


def bucket_starts(open_time: pd.Series, target: str) -> np.ndarray:
    """The open time (ns since the epoch) of the `target` bar that contains each candle."""
    step = timeframe_delta(target).value
    offset = _grid_offset(target)
    ns = open_time.astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    return (ns - offset) // step * step + offset


def resample_candles(candles: pd.DataFrame, source: str, target: str) -> Resampled:
    """Complete `target` bars from validated `source` candles (ascending, no duplicates, on the grid)."""
    per_bar = check_pair(source, target)
    if candles.empty:
        return Resampled(pd.DataFrame(columns=COLUMNS), source, target, 0, per_bar)
    frame = candles[COLUMNS].copy()
    frame["bucket"] = bucket_starts(frame["open_time"], target)
    grouped = frame.groupby("bucket", sort=True)
    bars = grouped.agg(open=("open", "first"), high=("high", "max"), low=("low", "min"), close=("close", "last"),
                       volume=("volume", "sum"), n=("open", "size"))
    complete = bars["n"] == per_bar
    dropped = int((~complete).sum())
    bars = bars[complete]
    out = pd.DataFrame({"open_time": pd.to_datetime(bars.index.to_numpy(), utc=True).astype("datetime64[ns, UTC]"),
                        **{c: bars[c].to_numpy(dtype="float64") for c in COLUMNS[1:]}})
    out.attrs = dict(candles.attrs)
    if dropped:
        log.info("resample %s -> %s: %d partial bars dropped", source, target, dropped)
    return Resampled(out.reset_index(drop=True), source, target, dropped, per_bar)


def covered_spans(spans: list[Span], source: str, target: str) -> list[Span]:
    """The `target` bars whose every `source` bar lies inside one covered span (a cache's coverage)."""
    check_pair(source, target)
    small, large = timeframe_delta(source), timeframe_delta(target)
    out = []
    for first, last in spans:
        start = pd.Timestamp(int(bucket_starts(pd.Series([first]), target)[0]), tz="UTC")
        if start < first:
            start += large
        end = pd.Timestamp(int(bucket_starts(pd.Series([last]), target)[0]), tz="UTC")
        if end + large - small > last:
            end -= large
        if start <= end:
            out.append((start, end))
    return out


def _grid_offset(timeframe: str) -> int:
    # Weekly candles open on Mondays; the Unix epoch was a Thursday (as candles._check_timeframe has it).
    return pd.Timedelta(days=4).value if timeframe == "1w" else 0
