"""predictions.parquet: a version's forecasts, one row per scored target time, and the one rule for which of
its rows are the test split.

Columns: target_time (UTC), last_close (close of the candle before the target), actual_close, predicted_close
and ``split`` ("validation" or "test"), the validation rows first, each split in time order. Every test
metric reads the test rows only (``keep_test``); the validation rows are there for decisions that must be
made before the test split is read (the backtest's no-trade threshold).

Versions written before the ``split`` column held the test rows only: all their rows are test rows, and they
have no validation predictions (``PredictionTable.validation`` is None).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from atb.errors import ModelError

FILE = "predictions.parquet"
SPLIT = "split"
TEST, VALIDATION = "test", "validation"
SPLITS = (VALIDATION, TEST)  # in the file's order


@dataclass(frozen=True)
class PredictionTable:
    test: pd.DataFrame  # without the split column
    validation: pd.DataFrame | None  # None: a version written before validation predictions were stored

    @property
    def has_validation(self) -> bool:
        return self.validation is not None


def split_rows(frame: pd.DataFrame, source: str = "predictions") -> PredictionTable:
    """The test and validation rows of a predictions table (see the module docstring); ModelError (one line)
    for a split value that is neither."""
    if SPLIT not in frame.columns:
        return PredictionTable(frame.reset_index(drop=True), None)
    unknown = sorted(set(frame[SPLIT].dropna().astype(str)) - set(SPLITS)) + (
        ["<missing>"] if frame[SPLIT].isna().any() else [])
    if unknown:
        raise ModelError(f"{source}: unknown value(s) {', '.join(map(repr, unknown))} in the {SPLIT!r} column "
                         f"(expected {' or '.join(map(repr, SPLITS))})")
    parts = {name: frame.loc[frame[SPLIT] == name].drop(columns=SPLIT).reset_index(drop=True) for name in SPLITS}
    return PredictionTable(parts[TEST], parts[VALIDATION])


def keep_test(frame: pd.DataFrame, source: str = "predictions") -> pd.DataFrame:
    """The rows every test metric is computed from. (Not named test_*: pytest would collect it.)"""
    return split_rows(frame, source).test


def read_predictions(version_dir: Path, file: str | None = None) -> PredictionTable:
    """A version's predictions table (``file``: metadata's artifacts.predictions, default FILE)."""
    path = Path(version_dir) / (file or FILE)
    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise ModelError(f"{path}: missing") from None
    return split_rows(frame, str(path))


def predictions_frame(test: pd.DataFrame, validation: pd.DataFrame) -> pd.DataFrame:
    """The table as written: the validation rows, then the test rows, told apart by the split column."""
    return pd.concat([validation.assign(**{SPLIT: VALIDATION}), test.assign(**{SPLIT: TEST})], ignore_index=True)
