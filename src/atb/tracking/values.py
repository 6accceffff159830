"""Turn whatever a training run hands us (numpy scalars, NaN, Paths, pandas timestamps) into values that
every backend stores: PostgreSQL's JSONB rejects NaN and NUL characters, psycopg cannot adapt numpy."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import PurePath
from typing import Any


def clean_text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).replace("\x00", "")


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


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """A copy of `value` that json.dumps accepts and PostgreSQL stores as JSONB."""
    if _depth > 64:
        return clean_text(repr(value))
    if value is None or isinstance(value, (bool, int, str)):
        return clean_text(value) if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {clean_text(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, _depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((to_jsonable(v, _depth + 1) for v in value), key=repr)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return clean_text(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return to_jsonable(value.tolist(), _depth + 1)
    if hasattr(value, "item"):
        return to_jsonable(value.item(), _depth + 1)
    return clean_text(value)
