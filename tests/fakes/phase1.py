"""A fake train_model for the benchmark (no torch): version folders like the pipeline's, on a shared market."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from atb.errors import DataError
from atb.evaluation.metrics import evaluate_forecasts
from atb.models.registry import names
from atb.registry.metadata import VersionMetadata
from atb.training.pipeline import TrainOutcome

SKILL = {"cnn_lstm": 0.3, "attention_lstm": 0.6, "tcn": 0.35}  # share of the next move each model foresees
ARCHITECTURES = names()  # the default model set: every architecture in the table (0.4 for those not above)
N = len(ARCHITECTURES)


def split(start: pd.Timestamp, end: pd.Timestamp) -> dict:
    return {"start": f"{start:%Y-%m-%dT%H:%M:%SZ}", "end": f"{end:%Y-%m-%dT%H:%M:%SZ}",
            "n": int((end - start) / pd.Timedelta(hours=1)) + 1}


def fake_forecasts(times: pd.DatetimeIndex, architecture: str, seed: int) -> tuple[np.ndarray, ...]:
    """last, actual, predicted closes: the market depends on the window, the forecast's noise on the model."""
    n = len(times)
    rng = np.random.default_rng(int(times[0].timestamp()))
    last = 100 + rng.normal(0, 1, n).cumsum()
    actual = last + rng.normal(0, 1, n)
    noise = np.random.default_rng(zlib.crc32(f"{architecture}{seed}".encode())).normal(0, 0.2, n)
    return last, actual, last + SKILL.get(architecture, 0.4) * (actual - last) + noise


def fake_train(req, reporter=None, fail: str | None = None) -> TrainOutcome:
    """A version folder like the pipeline's: metadata.json and predictions.parquet on a shared market."""
    if req.architecture == fail:
        raise DataError("no candles for this run")
    if reporter is not None:
        reporter.stage("Loading candles")
    end = req.end if req.end is not None else pd.Timestamp("2025-01-01", tz="UTC")
    # The test windows are the run's explicit test interval, as the pipeline scores them (120 without one).
    test_start = getattr(req, "test_start", None)  # (runs on older code too, to show what a change fixes)
    times = pd.date_range(test_start, end, freq="h") if test_start is not None else \
        pd.date_range(end=end, periods=120, freq="h")
    hour = pd.Timedelta(hours=1)
    last, actual, predicted = fake_forecasts(times, req.architecture, req.seed)
    val_times = pd.date_range(times[0] - 150 * hour, times[0] - hour, freq="h")
    version = f"{end:%Y%m%d%H}_{req.architecture}_{req.variant}_{req.seed}"
    folder = Path(req.models_dir) / req.symbol / "price" / version
    folder.mkdir(parents=True)
    frames = [pd.DataFrame({"target_time": t, "last_close": p[0], "actual_close": p[1], "predicted_close": p[2],
                            "split": split_name})
              for t, p, split_name in ((val_times, fake_forecasts(val_times, req.architecture, req.seed), "validation"),
                                       (times, (last, actual, predicted), "test"))]
    pd.concat(frames, ignore_index=True).to_parquet(folder / "predictions.parquet", index=False)
    meta = {
        "version_id": version, "symbol": req.symbol,
        "training_params": {"architecture": req.architecture, "architecture_variant": req.variant, "epochs_run": 3},
        "data": {"source": req.data_source, "train": split(times[0] - 700 * hour, times[0] - 151 * hour),
                 "validation": split(times[0] - 150 * hour, times[0] - hour), "test": split(times[0], times[-1])},
        "evaluation_results": evaluate_forecasts(last, actual, predicted),
        "performance": {"training_time_s": {"tcn": 5.0}.get(req.architecture, 20.0) + req.seed - 42,
                        "inference_ms_p50": 0.1, "parameters": 1000, "peak_rss_mb": 500.0},
    }
    (folder / "metadata.json").write_text(json.dumps(meta))
    return TrainOutcome(folder, VersionMetadata.from_json(meta))
