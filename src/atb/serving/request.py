"""A predict request's body, `{"candles": [{"open_time": ..., "open": ..., ...}, ...]}`, read straight into numpy
columns (no object per candle), and the checks that make every bad body a 4xx with a one-line reason."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from itertools import chain
from operator import itemgetter

import numpy as np

from atb.inference.forecaster import NS, Candles

try:  # orjson reads a 400-candle body in a third of the time; ccxt (pinned) installs it, the stdlib stands in
    from orjson import JSONDecodeError as _JSONError
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    from json import JSONDecodeError as _JSONError
    from json import loads as _loads

MAX_BODY_BYTES = 1_000_000
FIELDS = ("open_time", "open", "high", "low", "close", "volume")
NUMBERS = FIELDS[1:]
_TIME = itemgetter("open_time")
_NUMBERS = itemgetter(*NUMBERS)
_NUMBER_TYPES = {int, float}
_FIRST = itemgetter(slice(0, 1))
_DIGITS = set("0123456789")


class RequestError(Exception):
    """An answer other than 200: its HTTP status and a one-line reason (`{"detail": reason}`)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _bad(detail: str) -> RequestError:
    return RequestError(422, detail)


def parse_candles(body: bytes) -> Candles:
    """Columns of the body's candles, oldest first; RequestError(422) for anything that is not candles."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(413, f"the body is larger than {MAX_BODY_BYTES:,} bytes")
    try:
        doc = _loads(body)  # NaN and Infinity are no JSON: refused here (the stdlib would read them)
    except (_JSONError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _bad(f"the body is not valid JSON ({' '.join(str(exc).split())[:80]})") from None
    rows = doc.get("candles") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise _bad('expected a JSON object {"candles": [{"open_time", "open", "high", "low", "close", "volume"}, ...]}')
    if not rows:
        raise _bad("no candles")
    try:  # whole columns through C-level map(): no Python code per candle on the way
        times = list(map(_TIME, rows))
        numbers = list(map(_NUMBERS, rows))
    except (KeyError, TypeError):
        raise _first_bad_row(rows) from None
    if not set(map(type, chain.from_iterable(numbers))) <= _NUMBER_TYPES:  # bool is no number
        raise _first_bad_row(rows)
    try:
        prices = np.array(numbers, dtype=np.float64)
    except OverflowError:
        raise _bad("a number is too large") from None
    return Candles(_times_ns(times), *prices.T.copy())


def _first_bad_row(rows: list) -> RequestError:
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            return _bad(f"candle {i} is not an object with {', '.join(FIELDS)}")
        missing = [name for name in FIELDS if name not in row]
        if missing:
            return _bad(f"candle {i} lacks {', '.join(missing)}")
        for name in NUMBERS:
            value = row[name]
            if type(value) is not float and type(value) is not int:
                return _bad(f"candle {i}: {name} must be a number, got {_short(value)}")
    return _bad("the candles could not be read")


def _short(value: object) -> str:
    text = json.dumps(value) if isinstance(value, str | bool | type(None)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_NS = 2**63 - 1  # int64 nanoseconds end in 2262
_WEEK_START_NS = 4 * 86_400 * NS  # weekly candles open on Mondays; the epoch was a Thursday (as data.candles)


def _times_ns(times: list) -> np.ndarray:
    """Open times as int64 nanoseconds: the documented form (...Z) parsed by numpy at once; any other
    (an offset, no zone = UTC) one by one."""
    if set(map(type, times)) != {str}:
        i = next(i for i, text in enumerate(times) if not isinstance(text, str))
        raise _bad(f"candle {i + 1}: open_time must be an ISO-8601 string, got {_short(times[i])}")
    stripped = [text[:-1] for text in times if text[-1:] == "Z"]
    # numpy would also read "now", "today" and "NaT": the fast path takes times that begin with a digit only
    if len(stripped) == len(times) and set(map(_FIRST, stripped)) <= _DIGITS:
        try:
            micros = np.array(stripped, dtype="datetime64[us]").astype(np.int64)
        except ValueError:
            micros = None  # an unreadable one: found and named below
        if micros is not None and ((micros >= 0) & (micros < _MAX_NS // 1000)).all():
            return micros * 1000
    return np.fromiter((_time_ns(text, i) for i, text in enumerate(times)), dtype=np.int64, count=len(times))


def _time_ns(text: str, index: int) -> int:
    """One ISO-8601 time (UTC unless it names a zone) to integer nanoseconds, exact to the microsecond."""
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        delta = moment - _EPOCH
    except (ValueError, OverflowError):
        raise _bad(f"candle {index + 1}: cannot read open_time {_short(text)} (e.g. 2026-01-01T00:00:00Z)") from None
    ns = (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1000
    if not 0 <= ns < _MAX_NS:
        raise _bad(f"candle {index + 1}: open_time {_short(text)} is outside 1970-2262")
    return ns


def check_candles(candles: Candles, step_ns: int, timeframe: str, min_candles: int) -> None:
    """RequestError(422) unless the candles are enough, finite, positive, consistent and consecutive on the grid of
    the model's timeframe (no gap, no duplicate, oldest first)."""
    n = len(candles)
    if n < min_candles:
        raise _bad(f"too few candles: {n} given, at least {min_candles} consecutive {timeframe} candles needed "
                   f"(GET /models says how many each model needs)")
    o, h, lo, c, v = candles.open, candles.high, candles.low, candles.close, candles.volume
    for name, column in zip(NUMBERS, (o, h, lo, c, v), strict=True):
        bad = ~np.isfinite(column)
        if bad.any():
            raise _bad(f"candle {_first(bad)}: {name} is NaN or infinite")
    problems = (
        ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0), "a price is zero or negative"),
        (v < 0, "volume is negative"),
        (h < lo, "high is below low"),
        (h < np.maximum(o, c), "high is below open or close"),
        (lo > np.minimum(o, c), "low is above open or close"),
    )
    for bad, problem in problems:
        if bad.any():
            raise _bad(f"candle {_first(bad)}: {problem}")
    times = candles.open_time
    steps = np.diff(times)
    for bad, problem in (
        (steps == 0, "duplicates the open_time of the candle before it"),
        (steps < 0, "opens before the candle before it (candles go oldest first)"),
        (steps != step_ns, f"is not the {timeframe} candle after the one before it (a gap or another timeframe)"),
    ):
        if bad.any():
            i = int(np.flatnonzero(bad)[0]) + 1
            raise _bad(f"candle {i + 1} ({_iso(times[i])}) {problem}")
    offset = _WEEK_START_NS if timeframe == "1w" else 0
    if (int(times[-1]) - offset) % step_ns:  # consecutive, so the others are on the grid too
        raise _bad(f"open_time {_iso(times[-1])} is not on the {timeframe} grid (candles open on the hour, day ...)")


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0]) + 1


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(int(ns) // NS, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
