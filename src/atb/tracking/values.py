"""Turn whatever a training run hands us (numpy scalars, NaN, strings, pandas timestamps) into column values
that every backend stores: psycopg cannot adapt numpy, a column holds no NaN. JSON documents: atb.jsonio."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from typing import Any


def as_float(value: Any) -> float | None:
    """A finite float, or None (NaN and infinities are "no value" in a column)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_int(value: Any) -> int | None:
    """A whole number, or None (2.0 counts; 2.5, NaN and infinities do not)."""
    number = as_float(value)
    return int(number) if number is not None and number.is_integer() else None


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from a datetime, date or ISO-8601 string (naive means UTC); else None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if hasattr(moment, "to_pydatetime"):  # pandas.Timestamp: drop nanoseconds explicitly
        moment = moment.to_pydatetime()
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
