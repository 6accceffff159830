"""Reading candle files: our CSV layout, Binance's raw kline CSV, freqtrade feather/json candles."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from atb.data.candles import COLUMNS, validate_candles
from atb.errors import DataError


def read_candle_file(path: str | Path, timeframe: str | None = None) -> pd.DataFrame:
    """Read and validate a candle file; any problem is a one-line DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame, row_offset = _read_csv(path)
    else:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv, .feather or .json")
    candles = validate_candles(frame, str(path), timeframe, row_offset=row_offset)
    candles.attrs["source"] = f"file:{path.name}"
    return candles


def _read_csv(path: Path) -> tuple[pd.DataFrame, int]:
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    if frame.empty:
        raise DataError(f"{path}: header only, no candles")
    if len(frame.columns) == 1 and any(d in str(frame.columns[0]) for d in ";\t|"):
        raise DataError(f"{path}: one column only; the file is not comma-separated ({COLUMNS})")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame, 2  # line 1 is the header
