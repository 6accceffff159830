"""Plain JSON values from what the code holds (numpy scalars and arrays, NaN, datetimes, paths, dataclasses).

Two flavours of one conversion: strict (NaN and infinities become null, as RFC 8259 and PostgreSQL's JSONB
need: the run log, phase1_results.json) and not strict (NaN kept, which Python's json writes and reads back:
metadata.json has always been written that way, and `--json` outputs print what the files hold).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

_MAX_DEPTH = 64  # deeper than any document we write: a cycle, shown as its repr instead of a RecursionError


def clean_text(value: Any) -> str | None:
    """`str(value)` without NUL characters (PostgreSQL rejects them); None stays None."""
    if value is None:
        return None
    return str(value).replace("\x00", "")


def to_jsonable(value: Any, *, strict: bool = True, _depth: int = 0) -> Any:
    """A copy of `value` that json.dumps accepts; strict: NaN and infinities become None."""
    if _depth > _MAX_DEPTH:
        return clean_text(repr(value))
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) or not strict else None
    deeper = _depth + 1
    if isinstance(value, Mapping):
        return {clean_text(k): to_jsonable(v, strict=strict, _depth=deeper) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, strict=strict, _depth=deeper) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((to_jsonable(v, strict=strict, _depth=deeper) for v in value), key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), strict=strict, _depth=deeper)
    if isinstance(value, (datetime, date)):  # pandas.Timestamp too
        return value.isoformat()
    if isinstance(value, PurePath):
        return clean_text(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return to_jsonable(value.tolist(), strict=strict, _depth=deeper)
    if hasattr(value, "item"):
        return to_jsonable(value.item(), strict=strict, _depth=deeper)
    return clean_text(value)


def dumps(value: Any, *, strict: bool = True, indent: int | None = 2) -> str:
    """JSON text of `value` (see to_jsonable); strict text never contains NaN or Infinity."""
    return json.dumps(to_jsonable(value, strict=strict), indent=indent, allow_nan=not strict)
