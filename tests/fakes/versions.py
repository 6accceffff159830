"""Registered versions made by hand (metadata.json and predictions.parquet, an empty model.onnx, no weights):
enough for whatever reads the registry without rebuilding a network (comparison, ensemble checks, combiner fits)."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from atb.evaluation.metrics import evaluate_forecasts

HOUR = pd.Timedelta(hours=1)
TEST_START = pd.Timestamp("2025-01-01T00:00:00Z")


def market(times: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """last and actual closes of each target time: one market, whoever asks."""
    rng = np.random.default_rng(int(times[0].timestamp()) % 2**32)
    last = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(times))))
    return last, last * np.exp(rng.normal(0, 0.01, len(times)))


def write_version(root: Path, name: str, *, architecture: str = "cnn_lstm", skill: float = 0.3, noise: float = 0.005,
                  symbol: str = "BTCUSDT", timeframe: str = "1h", horizon: int = 1, synthetic: bool = False,
                  n_validation: int = 120, n_test: int = 100, test_start: pd.Timestamp = TEST_START,
                  train_start: str = "2024-12-01T00:00:00Z", with_validation: bool = True,
                  folder: str | None = None) -> Path:
    """A version whose forecasts are ``skill`` of the realised log return plus its own noise."""
    path = root / (folder or symbol) / "price" / name
    path.mkdir(parents=True)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    frames = []
    parts = (("validation", test_start - n_validation * HOUR, n_validation), ("test", test_start, n_test))
    for split, start, n in parts:
        if split == "validation" and not with_validation:
            continue
        times = pd.date_range(start, periods=n, freq="h")
        last, actual = market(times)
        predicted = last * np.exp(skill * np.log(actual / last) + rng.normal(0, noise * 0.01, n))
        frames.append(pd.DataFrame({"target_time": times, "last_close": last, "actual_close": actual,
                                    "predicted_close": predicted, "split": split}))
    table = pd.concat(frames, ignore_index=True)
    if not with_validation:
        table = table.drop(columns="split")
    table.to_parquet(path / "predictions.parquet", index=False)
    test = table[table.get("split", pd.Series("test", index=table.index)) == "test"]
    iso = "%Y-%m-%dT%H:%M:%SZ"
    meta = {
        "version_id": name, "symbol": symbol, "model_type": "price",
        "training_params": {"architecture": architecture, "architecture_variant": "default", "timeframe": timeframe,
                            "horizon": horizon, "sequence_length": 60, "start": train_start,
                            "end": f"{test_start + (n_test - 1) * HOUR:{iso}}", "epochs_run": 3},
        "data": {"source": "synthetic" if synthetic else "file:candles.csv", "synthetic": synthetic,
                 "first_candle": "2024-11-27T00:00:00Z", "last_candle": f"{test_start + (n_test - 1) * HOUR:{iso}}"},
        "evaluation_results": evaluate_forecasts(*(test[c].to_numpy() for c in ("last_close", "actual_close",
                                                                                "predicted_close"))),
        "performance": {"training_time_s": 10.0, "inference_ms_p50": 0.1, "parameters": 1000},
    }
    (path / "metadata.json").write_text(json.dumps(meta))
    (path / "model.onnx").write_bytes(b"")  # present, as the registry requires; nothing here runs it
    return path
