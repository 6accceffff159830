"""Reading candle files: our CSV layout, Binance's raw kline CSV, freqtrade feather/json candles.

| format | how it is recognised |
| --- | --- |
| ours: ``open_time,open,high,low,close,volume`` (ISO times; epoch numbers work too) | ``.csv`` with a header |
| Binance kline CSV (data.binance.vision): 12 columns, open time in ms or µs | ``.csv``, no header |
| freqtrade: columns ``date,open,high,low,close,volume`` | ``.feather`` (or ``.parquet``) |
| freqtrade: a list of ``[ms, open, high, low, close, volume]`` rows | ``.json`` / ``.json.gz`` |

Every problem ends as one DataError naming the file, the row (as a person counts it: the line number
in a CSV, the 1-based position elsewhere) and what is wrong.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

from atb.data.candles import COLUMNS, validate_candles
from atb.data.sources import file_label
from atb.data.timeframes import timeframe_delta
from atb.errors import DataError

_TIME_ALIASES = ("open_time", "date", "timestamp", "time", "datetime")
_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


def read_candle_file(path: str | Path, timeframe: str | None = None) -> pd.DataFrame:
    """Read and validate a candle file; any problem is a one-line DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    name = path.name.lower()
    if name.endswith(".csv"):
        frame, row_offset = _read_csv(path)
    elif name.endswith((".feather", ".parquet")):
        frame, row_offset = _read_table(path)
    elif name.endswith((".json", ".json.gz")):
        frame, row_offset = _read_json(path)
    else:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use .csv, .feather or .json")
    candles = validate_candles(frame, str(path), timeframe, row_offset=row_offset)
    if timeframe is not None:
        _check_spacing(candles, str(path), timeframe)
    candles.attrs["source"] = file_label(path)
    return candles


# --- CSV -------------------------------------------------------------------------------------------

def _first_line(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if line.strip():
                return line.strip()
    return ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path) -> tuple[pd.DataFrame, int]:
    first = _first_line(path)
    if not first:
        raise DataError(f"{path}: file is empty")
    if "," not in first:
        found = next((name for d, name in _DELIMITERS.items() if d in first), None)
        if found:
            raise DataError(f"{path}: the file is {found}-separated, not comma-separated; "
                            f"expected columns {','.join(COLUMNS)}")
        raise DataError(f"{path}: one column only; expected comma-separated {','.join(COLUMNS)}")
    header = not _is_number(first.split(",")[0].strip().strip('"'))
    try:
        frame = pd.read_csv(path, header=0 if header else None, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).strip().splitlines()[-1]})") from None
    if frame.empty:
        raise DataError(f"{path}: header only, no candles")
    if header:
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        frame = _rename_time(frame)
        row_offset = 2  # line 1 is the header
    else:  # Binance kline CSV: open time, o, h, l, c, v, close time, ... (12 columns)
        if frame.shape[1] < 6:
            raise DataError(f"{path}: {frame.shape[1]} columns without a header; expected {COLUMNS} "
                            "or Binance's 12-column kline layout")
        frame = frame.iloc[:, :6].set_axis(COLUMNS, axis=1)
        row_offset = 1
    if "open_time" in frame.columns and _numeric_times(frame["open_time"]):
        frame["open_time"] = _epoch_to_utc(frame["open_time"], str(path), row_offset)
    return frame, row_offset


def _rename_time(frame: pd.DataFrame) -> pd.DataFrame:
    if "open_time" in frame.columns:
        return frame
    for alias in _TIME_ALIASES[1:]:
        if alias in frame.columns:
            return frame.rename(columns={alias: "open_time"})
    return frame


def _numeric_times(times: pd.Series) -> bool:
    """Epoch numbers rather than ISO text? Decided by the first value (a bad row is reported later)."""
    if pd.api.types.is_numeric_dtype(times):
        return True
    first = times.dropna().head(1).astype(str)
    return not first.empty and bool(first.str.fullmatch(r"\s*\d+(\.0*)?\s*").iloc[0])


def _epoch_to_utc(times: pd.Series, origin: str, row_offset: int) -> pd.Series:
    """Epoch numbers -> UTC; the unit is told by magnitude, row by row (Binance switched its spot
    files from milliseconds to microseconds in 2025, so one concatenated file may hold both)."""
    numbers = pd.to_numeric(times, errors="coerce")
    bad = numbers.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{origin}, row {i + row_offset}: unreadable open time {times.iloc[i]!r}")
    values = numbers.to_numpy(dtype="float64")
    if (values < 0).any():
        i = int(np.flatnonzero(values < 0)[0])
        raise DataError(f"{origin}, row {i + row_offset}: negative open time {times.iloc[i]!r}")
    ints = values.astype("int64")
    # < 1e11: seconds; < 1e14: milliseconds; < 1e17: microseconds; else nanoseconds (all until year 5138)
    factor = np.select([ints < 10**11, ints < 10**14, ints < 10**17], [10**9, 10**6, 10**3], 1)
    return pd.Series(pd.to_datetime(ints * factor, utc=True), index=times.index)


# --- freqtrade feather / parquet and json ----------------------------------------------------------

def _read_table(path: Path) -> tuple[pd.DataFrame, int]:
    try:
        frame = pd.read_feather(path) if path.name.lower().endswith(".feather") else pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not what it claims
        raise DataError(f"{path}: not a readable {path.suffix} file ({_short(exc)})") from None
    if frame.empty:
        raise DataError(f"{path}: no candles")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame = _rename_time(frame)
    if "open_time" in frame.columns and _numeric_times(frame["open_time"]):
        frame["open_time"] = _epoch_to_utc(frame["open_time"], str(path), 1)
    return frame, 1


def _read_json(path: Path) -> tuple[pd.DataFrame, int]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({_short(exc)})") from None
    shape = "a list of [ms, open, high, low, close, volume] rows (freqtrade's json format)"
    if not isinstance(data, list):
        raise DataError(f"{path}: expected {shape}, found a JSON {type(data).__name__}")
    if not data:
        raise DataError(f"{path}: no candles")
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) < 6:
            raise DataError(f"{path}, row {i + 1}: expected [ms, open, high, low, close, volume], got {row!r}")
    frame = pd.DataFrame([row[:6] for row in data], columns=COLUMNS, dtype=object)
    frame["open_time"] = _epoch_to_utc(frame["open_time"], str(path), 1)
    return frame, 1


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _check_spacing(candles: pd.DataFrame, origin: str, timeframe: str) -> None:
    """Catch a file of another timeframe that happens to sit on this one's grid (4h read as 1h)."""
    if len(candles) < 3:
        return
    step = timeframe_delta(timeframe)
    usual = candles["open_time"].diff().dropna().mode().iloc[0]
    if usual != step:
        raise DataError(f"{origin}: most candles are {usual} apart, not {timeframe}; "
                        "is this a file of another timeframe?")
