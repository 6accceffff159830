"""The candle frame every part of atb shares, its validation and its gap report.

A candle frame has the columns ``open_time`` (UTC, the candle's open), ``open``, ``high``, ``low``,
``close`` and ``volume``, one row per candle, ascending, no duplicates. Missing candles (exchange
outages) are left missing: they are gaps, reported here and never bridged by a feature window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from atb.data.timeframes import timeframe_delta
from atb.errors import DataError

COLUMNS = ["open_time", "open", "high", "low", "close", "volume"]
PRICE_COLUMNS = ["open", "high", "low", "close"]


@dataclass(frozen=True)
class Gap:
    after: pd.Timestamp  # open time of the last candle before the gap
    before: pd.Timestamp  # open time of the first candle after it
    missing: int  # candles missing in between


@dataclass(frozen=True)
class GapReport:
    gaps: list[Gap]

    @property
    def count(self) -> int:
        return len(self.gaps)

    @property
    def missing(self) -> int:
        return sum(g.missing for g in self.gaps)

    @property
    def longest(self) -> Gap | None:
        return max(self.gaps, key=lambda g: g.missing, default=None)

    def summary(self) -> str:
        if not self.gaps:
            return "no gaps"
        g = self.longest
        return (
            f"{self.count} gaps, {self.missing} missing candles "
            f"(longest {g.missing} after {g.after:%Y-%m-%d %H:%M})"
        )


def find_gaps(candles: pd.DataFrame, timeframe: str) -> GapReport:
    step = timeframe_delta(timeframe)
    times = candles["open_time"]
    deltas = times.diff().iloc[1:]
    where = np.flatnonzero((deltas > step).to_numpy()) + 1
    gaps = [
        Gap(
            after=times.iloc[i - 1],
            before=times.iloc[i],
            missing=int((times.iloc[i] - times.iloc[i - 1]) / step) - 1,
        )
        for i in where
    ]
    return GapReport(gaps)


def segment_ids(open_time: pd.Series, timeframe: str) -> np.ndarray:
    """Number the runs of consecutive candles: the id increases by one after every gap."""
    step = timeframe_delta(timeframe)
    breaks = (open_time.diff() != step).to_numpy(copy=True)
    breaks[0] = False
    return np.cumsum(breaks)


def _fail(origin: str, row: int | None, problem: str) -> DataError:
    where = f"{origin}, row {row}" if row is not None else origin
    return DataError(f"{where}: {problem}")


def validate_candles(
    frame: pd.DataFrame,
    origin: str,
    timeframe: str | None = None,
    *,
    strict: bool = True,
    row_offset: int = 1,
) -> pd.DataFrame:
    """Check and normalise a candle frame; raise DataError naming the origin, the row and the problem.

    ``strict`` (files) rejects unsorted or duplicated rows; otherwise (exchange pages) they are sorted
    and identical duplicates dropped. ``row_offset`` turns a 0-based position into the row number a
    person sees in the file (2 for a CSV with a header line).
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise _fail(origin, None, f"missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
    if frame.empty:
        raise _fail(origin, None, "no candles")
    df = frame[COLUMNS].reset_index(drop=True).copy()
    df["open_time"] = _as_utc(df["open_time"], origin, row_offset)
    for col in COLUMNS[1:]:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise _fail(origin, i + row_offset, f"non-numeric {col} value {df[col].iloc[i]!r}")
        df[col] = values.astype("float64")

    nan_rows = df.isna().any(axis=1).to_numpy()
    if nan_rows.any():
        i = int(np.flatnonzero(nan_rows)[0])
        cols = [c for c in COLUMNS if pd.isna(df[c].iloc[i])]
        raise _fail(origin, i + row_offset, f"missing value (NaN) in {', '.join(cols)}")

    if strict:
        dt = df["open_time"].diff().iloc[1:]
        if (dt == pd.Timedelta(0)).any():
            i = int(np.flatnonzero((dt == pd.Timedelta(0)).to_numpy())[0]) + 1
            raise _fail(origin, i + row_offset, f"duplicated timestamp {df['open_time'].iloc[i]}")
        if (dt < pd.Timedelta(0)).any():
            i = int(np.flatnonzero((dt < pd.Timedelta(0)).to_numpy())[0]) + 1
            raise _fail(origin, i + row_offset, f"rows not sorted by open_time ({df['open_time'].iloc[i]})")
    else:
        df = df.sort_values("open_time", kind="stable")
        df = df.drop_duplicates(subset="open_time", keep="last").reset_index(drop=True)

    prices = df[PRICE_COLUMNS].to_numpy()
    checks = [
        ((prices <= 0).any(axis=1), "price is zero or negative"),
        ((df["volume"] < 0).to_numpy(), "volume is negative"),
        ((df["high"] < df["low"]).to_numpy(), "high is below low"),
        ((df["high"] < df[["open", "close"]].max(axis=1)).to_numpy(), "high is below open or close"),
        ((df["low"] > df[["open", "close"]].min(axis=1)).to_numpy(), "low is above open or close"),
    ]
    for bad, problem in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _fail(origin, i + row_offset, problem)

    if timeframe is not None:
        _check_timeframe(df, origin, timeframe, row_offset)
    return df


def _as_utc(times: pd.Series, origin: str, row_offset: int) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(times):
        parsed = times
    else:
        parsed = pd.to_datetime(times, utc=True, errors="coerce", format="ISO8601")
        bad = parsed.isna() & times.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise _fail(origin, i + row_offset, f"unreadable open_time {times.iloc[i]!r}")
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize("UTC")
    return parsed.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def _check_timeframe(df: pd.DataFrame, origin: str, timeframe: str, row_offset: int) -> None:
    """Every open time must sit on the timeframe's grid, and no two candles closer than one step."""
    step = timeframe_delta(timeframe)
    ns = df["open_time"].astype("int64").to_numpy()
    # Weekly candles open on Mondays; the Unix epoch was a Thursday, four days later in the week.
    week_start = pd.Timedelta(days=4).value if timeframe == "1w" else 0
    off_grid = ((ns - week_start) % step.value) != 0
    if off_grid.any():
        i = int(np.flatnonzero(off_grid)[0])
        raise _fail(
            origin, i + row_offset,
            f"open_time {df['open_time'].iloc[i]} is not on the {timeframe} grid (mixed timeframes?)",
        )
    dt = np.diff(ns)
    short = dt < step.value
    if short.any():
        i = int(np.flatnonzero(short)[0]) + 1
        raise _fail(origin, i + row_offset, f"candles closer than {timeframe} apart (mixed timeframes?)")


def infer_timeframe(candles: pd.DataFrame) -> str | None:
    """The most common spacing of open times, as a timeframe string, if it is a supported one."""
    from atb.data.timeframes import SUPPORTED, timeframe_seconds

    if len(candles) < 2:
        return None
    seconds = candles["open_time"].diff().dropna().dt.total_seconds().mode()
    if seconds.empty:
        return None
    for tf in SUPPORTED:
        if timeframe_seconds(tf) == int(seconds.iloc[0]):
            return tf
    return None


def floor_time(ts: pd.Timestamp, timeframe: str) -> pd.Timestamp:
    """The open time of the candle that contains ``ts`` (grid aligned to the Unix epoch, UTC)."""
    step = timeframe_delta(timeframe).value
    ts = to_utc(ts)
    return pd.Timestamp(ts.value - ts.value % step, tz="UTC")


def ceil_time(ts: pd.Timestamp, timeframe: str) -> pd.Timestamp:
    """The first open time on the grid at or after ``ts``."""
    floor = floor_time(ts, timeframe)
    return floor if floor == to_utc(ts) else floor + timeframe_delta(timeframe)


def last_closed_open_time(timeframe: str, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """Open time of the newest candle that has closed by ``now`` (the one after it is still open)."""
    now = to_utc(now) if now is not None else pd.Timestamp.now(tz="UTC")
    return floor_time(now, timeframe) - timeframe_delta(timeframe)


def to_utc(ts: pd.Timestamp | str) -> pd.Timestamp:
    """A timestamp in UTC; a naive one is taken to be UTC already."""
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
