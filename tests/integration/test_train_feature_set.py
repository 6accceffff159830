"""`atb train model --features returns`: a model of three features is trained, exported, recorded as such, its
metrics recompute from predictions.parquet, and `atb predict` feeds it its own columns (from scaler.json)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atb.data.synthetic import synthetic_candles
from atb.errors import ModelError
from atb.features.sets import feature_names
from atb.inference.predict import forecast_next
from atb.registry.predictions import keep_test

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def returns_model(tmp_path_factory) -> tuple[Path, dict]:
    from atb.cli import main

    models = tmp_path_factory.mktemp("models")
    os.environ.setdefault("ATB_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    argv = ["train", "model", "BTCUSDT", "--model-type", "tcn", "--variant", "lightweight", "--features",
            "returns", "--days", "8", "--epochs", "2", "--data-source", "synthetic", "--models-dir", str(models),
            "--no-db", "--json"]
    with pytest.raises(SystemExit) as done:
        main.run(argv)
    assert done.value.code in (0, None)
    version = next((models / "BTCUSDT-SYNTHETIC" / "price").glob("20*"))
    return version, json.loads((version / "metadata.json").read_text())


def test_the_version_records_its_set_and_columns(returns_model):
    version, meta = returns_model
    names = feature_names("returns")
    assert meta["training_params"]["feature_set"] == "returns" and meta["training_params"]["features"] == names
    assert json.loads((version / "scaler.json").read_text())["feature_names"] == names
    assert meta["onnx"]["input_shape"] == ["batch", meta["training_params"]["sequence_length"], 3]
    assert meta["model_config"]["n_features"] == 3 and meta["onnx"]["max_abs_diff"] <= 1e-4


def test_its_metrics_recompute_from_predictions(returns_model):
    version, meta = returns_model
    ev = meta["evaluation_results"]
    p = keep_test(pd.read_parquet(version / "predictions.parquet"))
    err = p.predicted_close - p.actual_close
    assert ev["test_rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
    assert ev["naive_test_rmse"] == pytest.approx(np.sqrt(np.mean((p.last_close - p.actual_close) ** 2)))
    assert len(p) == ev["test_windows"] == meta["data"]["test"]["n"]


def test_predict_feeds_the_model_its_own_columns(returns_model):
    version, _ = returns_model
    last = keep_test(pd.read_parquet(version / "predictions.parquet")).iloc[-1]
    candles = synthetic_candles(5000, symbol="BTCUSDT")
    candles = candles[candles.open_time < last.target_time].reset_index(drop=True)
    forecast = forecast_next(version, candles)
    assert forecast.target_time == last.target_time
    assert forecast.predicted_close == pytest.approx(last.predicted_close, rel=1e-6)


def test_a_feature_this_atb_does_not_compute_is_one_model_error(returns_model, tmp_path):
    version, _ = returns_model
    copy = shutil.copytree(version, tmp_path / version.name)
    scaler = json.loads((copy / "scaler.json").read_text())
    scaler["feature_names"][1] = "order_book_imbalance"
    (copy / "scaler.json").write_text(json.dumps(scaler))
    with pytest.raises(ModelError, match="features this atb version does not compute \\(order_book_imbalance\\)"):
        forecast_next(copy, synthetic_candles(500, symbol="BTCUSDT"))
