"""predictions.parquet's one rule: the test rows are those with split == "test", or every row of a table from
before the split column; the validation rows are kept apart for decisions made before test is read."""

from __future__ import annotations

import pandas as pd
import pytest

from atb.errors import ModelError
from atb.registry.predictions import keep_test, predictions_frame, read_predictions, split_rows


def frame(start: str, n: int, price: float) -> pd.DataFrame:
    return pd.DataFrame({"target_time": pd.date_range(start, periods=n, freq="h", tz="UTC"), "last_close": price,
                         "actual_close": price + 1, "predicted_close": price + 2})


def test_the_written_table_splits_back_into_its_parts(tmp_path):
    validation, test = frame("2024-01-01", 3, 10.0), frame("2024-01-02", 4, 20.0)
    written = predictions_frame(test, validation)
    assert written["split"].tolist() == ["validation"] * 3 + ["test"] * 4  # in time order
    written.to_parquet(tmp_path / "predictions.parquet", index=False)
    table = read_predictions(tmp_path)
    pd.testing.assert_frame_equal(table.test, test)
    pd.testing.assert_frame_equal(table.validation, validation)
    pd.testing.assert_frame_equal(keep_test(written), test)


def test_a_table_without_the_split_column_is_all_test_rows():
    old = frame("2024-01-02", 4, 20.0)
    table = split_rows(old)
    assert not table.has_validation and table.validation is None
    pd.testing.assert_frame_equal(table.test, old)


@pytest.mark.parametrize("value", ["train", None])
def test_an_unknown_split_value_is_one_line(value):
    damaged = predictions_frame(frame("2024-01-02", 2, 20.0), frame("2024-01-01", 2, 10.0))
    damaged.loc[0, "split"] = value
    with pytest.raises(ModelError, match=r"^x.parquet: unknown value\(s\) .* in the 'split' column \(expected "
                                         r"'validation' or 'test'\)$"):
        split_rows(damaged, "x.parquet")


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(ModelError, match="predictions.parquet: missing$"):
        read_predictions(tmp_path)
