"""Values from a training run become something every backend stores (atb.tracking.values, .mapping)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from atb.jsonio import to_jsonable
from atb.registry.metadata import VersionMetadata
from atb.tracking.mapping import metadata_columns, start_columns
from atb.tracking.values import as_float, as_int, parse_time


def test_to_jsonable_makes_strict_json_of_numpy_nan_paths_and_times() -> None:
    value = {
        "lr": np.float32(0.5), "n": np.int64(7), "arr": np.arange(3), "nan": float("nan"),
        "inf": np.float64("inf"), "path": Path("/tmp/x"), "when": datetime(2024, 1, 2, tzinfo=timezone.utc),
        "day": date(2024, 1, 2), "tuple": (1, 2), "set": {"b", "a"}, "nul": "a\x00b", "flag": np.bool_(True),
    }
    result = to_jsonable(value)
    text = json.dumps(result, allow_nan=False)  # PostgreSQL's JSONB would reject NaN
    assert json.loads(text) == {
        "lr": 0.5, "n": 7, "arr": [0, 1, 2], "nan": None, "inf": None, "path": "/tmp/x",
        "when": "2024-01-02T00:00:00+00:00", "day": "2024-01-02", "tuple": [1, 2], "set": ["a", "b"],
        "nul": "ab", "flag": True,
    }


@pytest.mark.parametrize(("raw", "expected"), [
    (1, 1.0), ("2.5", 2.5), (np.float32(0.25), 0.25), (float("nan"), None), (math.inf, None), (None, None),
    ("x", None), (True, None), ([1], None),
])
def test_as_float(raw: object, expected: float | None) -> None:
    assert as_float(raw) == expected


def test_as_int_refuses_fractions() -> None:
    assert as_int(np.int64(3)) == 3
    assert as_int(3.0) == 3
    assert as_int(3.5) is None
    assert as_int("12") == 12


def test_parse_time_returns_aware_utc() -> None:
    utc = timezone.utc
    assert parse_time("2024-01-01T00:00:00Z") == datetime(2024, 1, 1, tzinfo=utc)
    assert parse_time("2024-01-01 02:00:00+02:00") == datetime(2024, 1, 1, tzinfo=utc)
    assert parse_time(datetime(2024, 1, 1)) == datetime(2024, 1, 1, tzinfo=utc)
    assert parse_time(datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))) == datetime(2024, 1, 1, tzinfo=utc)
    assert parse_time(date(2024, 1, 1)) == datetime(2024, 1, 1, tzinfo=utc)
    assert parse_time("not a date") is None
    assert parse_time(1700000000) is None


def test_start_columns_fall_back_to_params() -> None:
    columns = start_columns({
        "version_id": "v", "symbol": "BTCUSDT",
        "params": {"architecture": "tcn", "architecture_variant": "deep", "timeframe": "1h", "epochs": 20,
                   "batch_size": 32, "learning_rate": 1e-3, "seed": 42, "start": "2024-01-01", "end": None},
    })
    assert columns["architecture"] == "tcn"
    assert columns["variant"] == "deep"
    assert columns["timeframe"] == "1h"
    assert (columns["epochs"], columns["batch_size"], columns["learning_rate"], columns["seed"]) == (20, 32, 1e-3, 42)
    assert columns["data_start"] == datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert columns["data_end"] is None


def test_metadata_columns_read_every_scalar_metric() -> None:
    metadata = {
        "symbol": "ETHUSDT", "version_id": "2026-01-01_000000_tcn_default", "created_at": "2026-01-01T00:00:00Z",
        "training_params": {"architecture": "tcn", "architecture_variant": "default", "timeframe": "1h",
                            "epochs": 20, "epochs_run": 14, "start": "2024-01-01T00:00:00Z"},
        "data": {"source": "file:ETH.csv", "rows": 720, "gaps": 1, "test": {"end": "2024-01-31T00:00:00Z"}},
        "evaluation_results": {"test_rmse": 12.5, "test_mae": 9.0, "mape": 0.4, "directional_accuracy": 51.0,
                               "directional_accuracy_ci95": [47.0, 55.0], "directional_p_value": 0.6,
                               "naive_test_rmse": 12.0, "rmse_skill_vs_naive": -0.04,
                               "dm_vs_naive": {"statistic": 1.2, "p_value": 0.23}},
        "performance": {"training_time_s": 31.5, "inference_ms_p50": 0.8, "parameters": 12345},
        "onnx": {"max_abs_diff": 1e-7},
    }
    columns = metadata_columns(VersionMetadata.from_json(metadata))
    assert columns["variant"] == "default"
    assert columns["epochs_run"] == 14
    assert columns["data_source"] == "file:ETH.csv"
    assert columns["data_end"] == datetime(2024, 1, 31, tzinfo=timezone.utc)
    assert (columns["directional_accuracy_ci_low"], columns["directional_accuracy_ci_high"]) == (47.0, 55.0)
    assert (columns["dm_statistic"], columns["dm_p_value"]) == (1.2, 0.23)
    assert (columns["training_time_s"], columns["inference_ms_p50"], columns["parameters"]) == (31.5, 0.8, 12345)
    assert columns["onnx_max_abs_diff"] == 1e-7
    assert columns["run_metadata"] == metadata


def test_metadata_columns_tolerate_a_sparse_or_odd_document() -> None:
    columns = metadata_columns(VersionMetadata.from_json({
        "evaluation_results": {"test_rmse": "n/a", "directional_accuracy_ci95": 3},
        "performance": None, "training_params": []}))
    assert columns["test_rmse"] is None
    assert columns["directional_accuracy_ci_low"] is None
    assert columns["architecture"] is None
