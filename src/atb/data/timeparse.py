"""Dates and times given on the command line, read one way by every command (train, bench, data download).

A bare date given as an *end* includes its whole day: ``--end-date 2022-12-30`` keeps the candle that
opens at 23:00 that day. As a *start* it means 00:00. A date with a time means exactly that time. Times
are UTC unless they name their zone.
"""

from __future__ import annotations

import re

import pandas as pd

from atb.data.candles import to_utc
from atb.errors import UsageError

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_time(text: str, option: str, *, end: bool = False) -> pd.Timestamp:
    """``text`` as a UTC timestamp; ``end=True``: a bare date means the last instant of that day."""
    text = text.strip()
    try:
        ts = to_utc(pd.Timestamp(text))
    except (ValueError, TypeError):
        raise UsageError(f"{option}: cannot read {text!r} as a date; use YYYY-MM-DD or an ISO time") from None
    if ts is pd.NaT:
        raise UsageError(f"{option}: cannot read {text!r} as a date; use YYYY-MM-DD or an ISO time")
    if end and _DATE_ONLY.match(text):
        ts = ts + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")  # every candle that opens that day
    return ts


def optional_time(text: str | None, option: str, *, end: bool = False) -> pd.Timestamp | None:
    return None if text is None else parse_time(text, option, end=end)
