"""The one path from candles to a forecast (inference.forecaster) against the training path: the same features,
windows and scaling as `build_dataset`, the tail of history it computes over is enough, a version's own
predictions.parquet is reproduced, and batch predictions equal the live path bar by bar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atb.data.files import read_candle_file
from atb.data.synthetic import synthetic_candles
from atb.errors import DataError
from atb.features.dataset import build_dataset
from atb.features.indicators import FEATURES, compute_features, feature_matrix
from atb.inference.forecaster import (
    FEATURE_MEMORY_BARS,
    NS,
    Candles,
    OnnxForecaster,
    complete_windows,
    window_features,
)
from fakes.serving import FIXTURE

STEP_NS = 3600 * NS


def _prefix(candles: Candles, rows: int) -> Candles:
    return Candles(*(column[:rows] for column in candles.columns()))


def test_feature_matrix_is_compute_features_on_one_run() -> None:
    frame = synthetic_candles(500, symbol="BTCUSDT")
    columns = [frame[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume")]
    np.testing.assert_array_equal(feature_matrix(*columns), compute_features(frame, "1h")[FEATURES].to_numpy())


def test_served_window_is_the_training_window_bit_for_bit() -> None:
    """Candles no longer than the served history: the served window of every test anchor is build_dataset's."""
    length = 24
    frame = synthetic_candles(FEATURE_MEMORY_BARS + length - 10, symbol="BTCUSDT")
    ds = build_dataset(frame, "1h", sequence_length=length, first_target_time=frame["open_time"].iloc[0])
    candles = Candles.from_frame(frame)
    for anchor in ds.anchors["test"]:
        features = window_features(_prefix(candles, anchor + 1), STEP_NS, FEATURE_MEMORY_BARS + length)
        served = ds.scaler.transform(features[-length:])
        np.testing.assert_array_equal(served, ds.features[anchor - length + 1: anchor + 1])


@pytest.mark.parametrize("market", ["synthetic", "btc"])
def test_history_tail_gives_the_full_history_features(market: str, request: pytest.FixtureRequest) -> None:
    """FEATURE_MEMORY_BARS before the window: the features equal those of the whole series to < 1e-6 of their
    spread (TA-Lib's recursive indicators have forgotten their seed), at many cut points."""
    if market == "btc":
        shared = request.getfixturevalue("shared_data")
        frame = read_candle_file(shared / "BTCUSDT_1h_2017-08_2022-12.csv", "1h").iloc[-6000:].reset_index(drop=True)
    else:
        frame = synthetic_candles(6000, symbol="BTCUSDT")
    full = compute_features(frame, "1h")[FEATURES].to_numpy()
    spread = np.nanstd(full, axis=0)
    candles = Candles.from_frame(frame)
    length = 60
    worst = 0.0
    for end in range(1000, len(frame), 250):
        rows = window_features(_prefix(candles, end), STEP_NS, FEATURE_MEMORY_BARS + length)[-length:]
        reference = full[end - length:end]
        both = np.isfinite(rows) & np.isfinite(reference)
        assert (np.isfinite(rows) == np.isfinite(reference)).all()
        worst = max(worst, float(np.max(np.abs(rows - reference)[both] / np.broadcast_to(spread, rows.shape)[both])))
    assert worst < 1e-6


def test_forecasts_reproduce_the_versions_predictions_parquet() -> None:
    """The fixture version's test predictions (made by torch at training) from the same synthetic candles, through
    ONNX Runtime: equal to ONNX parity."""
    model = OnnxForecaster.load(FIXTURE)
    predictions = pd.read_parquet(FIXTURE / "predictions.parquet")
    frame = synthetic_candles(int(model.meta.data.rows), symbol="BTCUSDT", seed=7, ar_coef=0.1)
    candles = Candles.from_frame(frame)
    for target, predicted in zip(predictions["target_time"], predictions["predicted_close"], strict=True):
        upto = int(np.searchsorted(candles.open_time, target.value))
        forecast = model.forecast(_prefix(candles, upto))
        assert forecast.target_time == target.value
        assert forecast.predicted_close == pytest.approx(predicted, rel=1e-8)


def test_batch_forecasts_equal_the_live_path_and_skip_gaps() -> None:
    model = OnnxForecaster.load(FIXTURE)
    frame = synthetic_candles(700, symbol="BTCUSDT", seed=7, ar_coef=0.1)
    frame = frame.drop(index=range(500, 503)).reset_index(drop=True)  # a 3-candle gap
    first, last = frame["open_time"].iloc[350], frame["open_time"].iloc[-1] + pd.Timedelta(hours=1)
    batch = model.forecast_frame(frame, first, last)
    candles = Candles.from_frame(frame)
    times = frame["open_time"]
    gap_end = times.iloc[500]
    # after the gap, the first window needs min_candles consecutive candles: its target is the one after them
    after = batch["target_time"][batch["target_time"] > gap_end]
    assert after.iloc[0] == gap_end + pd.Timedelta(hours=model.min_candles)
    assert batch["target_time"].iloc[-1] == last and np.isnan(batch["actual_close"].iloc[-1])
    for row in batch.iloc[::7].itertuples(index=False):
        upto = int(np.searchsorted(candles.open_time, row.target_time.value))
        live = model.forecast(_prefix(candles, upto))
        assert row.predicted_close == pytest.approx(live.predicted_close, rel=1e-9)
        assert row.last_close == live.last_close


def test_no_complete_window_is_one_line() -> None:
    model = OnnxForecaster.load(FIXTURE)
    frame = synthetic_candles(model.min_candles - 1, symbol="BTCUSDT")
    with pytest.raises(DataError, match=f"{model.min_candles} consecutive 1h candles"):
        model.forecast(Candles.from_frame(frame))


def test_complete_windows_never_span_a_gap() -> None:
    times = np.array([0, 1, 2, 3, 5, 6, 7, 8], dtype=np.int64)
    features = np.zeros((8, 2))
    assert complete_windows(times, features, 1, 3).tolist() == [2, 3, 6, 7]
    features[6, 0] = np.nan
    assert complete_windows(times, features, 1, 3).tolist() == [2, 3]


def test_a_damaged_version_is_a_model_error(tmp_path: Path) -> None:
    import shutil

    from atb.errors import ModelError

    version = tmp_path / "v"
    shutil.copytree(FIXTURE, version)
    (version / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="cannot load the ONNX model"):
        OnnxForecaster.load(version)
    (version / "scaler.json").write_text("{")
    with pytest.raises(ModelError, match="cannot read the scaler"):
        OnnxForecaster.load(version)
