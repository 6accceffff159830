"""`compare` and `atb models compare`: only versions of one symbol, timeframe, horizon and kind of data
are scored side by side, and the DM tests use the versions' horizon."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atb.evaluation.comparison import Entry, compare
from atb.evaluation.stats import diebold_mariano
from atb.registry.metadata import VersionMetadata
from atb.registry.predictions import predictions_frame


def entry(arch: str, *, timeframe: str = "1h", horizon: int | None = None, symbol: str = "BTCUSDT",
          synthetic: bool = False, n: int = 200, skill: float = 0.3, seed: int = 0) -> Entry:
    times = pd.date_range("2025-01-01", periods=n, freq=timeframe, tz="UTC")
    rng = np.random.default_rng(seed)
    last = 100 + rng.normal(0, 1, n).cumsum()
    actual = last + rng.normal(0, 1, n)
    predicted = last + skill * (actual - last) + np.random.default_rng(seed + 1).normal(0, 0.3, n)
    params = {"architecture": arch, "architecture_variant": "default", "timeframe": timeframe}
    if horizon is not None:
        params["horizon"] = horizon
    meta = {"version_id": f"2026-01-01_000000_{arch}_default_{timeframe}", "symbol": symbol,
            "training_params": params, "data": {"source": "synthetic" if synthetic else "file:x.csv",
                                                "synthetic": synthetic},
            "evaluation_results": {}, "performance": {}}
    frame = pd.DataFrame({"target_time": times, "last_close": last, "actual_close": actual,
                          "predicted_close": predicted})
    return Entry(f"{arch} (default)", VersionMetadata.from_json(meta), frame)


def test_a_1h_and_a_4h_version_are_not_compared():
    # 4h target times are a subset of 1h ones: without the check they "share" 50 windows.
    hourly, four_hourly = entry("cnn_lstm", timeframe="1h"), entry("tcn", timeframe="4h", n=50)
    with pytest.raises(ValueError) as info:
        compare([four_hourly, hourly])
    assert str(info.value) == ("cannot compare versions with different timeframes: "
                               "2026-01-01_000000_tcn_default_4h is 4h, 2026-01-01_000000_cnn_lstm_default_1h is 1h")


@pytest.mark.parametrize(("other", "message"), [
    (dict(symbol="ETHUSDT"), "different symbols: 2026-01-01_000000_cnn_lstm_default_1h is BTCUSDT, "
                             "2026-01-01_000000_tcn_default_1h is ETHUSDT"),
    (dict(horizon=4), "different horizons: 2026-01-01_000000_cnn_lstm_default_1h is 1 bar ahead, "
                      "2026-01-01_000000_tcn_default_1h is 4 bars ahead"),
    (dict(synthetic=True), "different data: 2026-01-01_000000_cnn_lstm_default_1h is real market data, "
                           "2026-01-01_000000_tcn_default_1h is synthetic"),
])
def test_versions_of_other_symbols_horizons_or_data_are_not_compared(other, message):
    with pytest.raises(ValueError, match=f"^cannot compare versions with {message}$"):
        compare([entry("cnn_lstm"), entry("tcn", **other)])


def test_dm_tests_use_the_versions_horizon():
    base, other = entry("cnn_lstm", horizon=3), entry("tcn", horizon=3, skill=0.5, seed=5)
    comparison = compare([base, other])
    row = next(r for r in comparison.rows if r.architecture == "tcn")
    b, o = base.predictions, other.predictions
    base_err = (b.predicted_close - b.actual_close).to_numpy()
    err = (o.predicted_close - o.actual_close).to_numpy()
    assert row.dm_vs_baseline["p_value"] == pytest.approx(diebold_mariano(err, base_err, 3).p_value)
    assert row.dm_vs_baseline["p_value"] != pytest.approx(diebold_mariano(err, base_err, 1).p_value)
    naive_err = (o.last_close - o.actual_close).to_numpy()
    assert row.metrics["dm_vs_naive"]["p_value"] == pytest.approx(diebold_mariano(err, naive_err, 3).p_value)


def test_old_versions_without_a_horizon_count_as_one_bar_ahead():
    old, new = entry("cnn_lstm"), entry("tcn", horizon=1, seed=3)
    assert old.horizon == 1
    assert compare([old, new]).windows == 200


def write_version(models: Path, e: Entry) -> str:
    folder = models / "BTCUSDT" / "price" / e.metadata.version_id
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps(e.metadata.to_json()))
    (folder / "model.onnx").write_bytes(b"onnx")
    e.predictions.to_parquet(folder / "predictions.parquet", index=False)
    return folder.name


def test_models_compare_refuses_mixed_timeframes_in_one_line(tmp_path, atb_cli):
    models = tmp_path / "models"
    a = write_version(models, entry("cnn_lstm", timeframe="1h"))
    b = write_version(models, entry("tcn", timeframe="4h", n=50))
    result = atb_cli(["models", "compare", "BTCUSDT", "-v", a, "-v", b, "--models-dir", str(models)])
    assert result.code == 1
    assert result.err.strip() == f"error: cannot compare versions with different timeframes: {a} is 1h, {b} is 4h"


def test_models_compare_by_default_takes_the_newest_versions_timeframe(tmp_path, atb_cli):
    models = tmp_path / "models"
    old = entry("attention_lstm", timeframe="4h", n=50)
    old.metadata.version_id = "2025-01-01_000000_attention_lstm_default"
    write_version(models, old)
    write_version(models, entry("cnn_lstm"))
    write_version(models, entry("tcn", seed=4))
    result = atb_cli(["models", "compare", "BTCUSDT", "--json", "--models-dir", str(models)])
    assert result.code == 0, result.err
    assert [r["architecture"] for r in json.loads(result.out)["rows"]] == ["cnn_lstm", "tcn", "naive"]
    assert "left out 1 version(s) with another timeframe or horizon" in result.err


def with_validation(e: Entry, poison: bool = False) -> pd.DataFrame:
    """The entry's table as the pipeline writes it: 100 validation rows before the test rows (split column)."""
    first = e.predictions["target_time"].iloc[0]
    validation = e.predictions.head(100).assign(target_time=pd.date_range(end=first - pd.Timedelta("1h"),
                                                                          periods=100, freq="h"))
    if poison:  # absurd validation forecasts: any test metric that read them would change
        validation = validation.assign(predicted_close=validation["predicted_close"] * 50, actual_close=1e-3)
    return predictions_frame(e.predictions, validation)


def test_test_metrics_read_only_the_test_rows_of_a_predictions_table(tmp_path, atb_cli):
    base, other = entry("cnn_lstm"), entry("tcn", skill=0.5, seed=5)
    scored = {}
    for case, poison in (("plain", False), ("clean", False), ("poisoned", True)):
        models = tmp_path / case
        names = [write_version(models, e) for e in (base, other)]
        if case != "plain":
            for name, e in zip(names, (base, other), strict=True):
                with_validation(e, poison).to_parquet(models / "BTCUSDT/price" / name / "predictions.parquet")
        loaded = [Entry.from_version(models / "BTCUSDT/price" / name) for name in names]
        assert all(len(e.predictions) == 200 and "split" not in e.predictions for e in loaded)
        assert all((e.validation is None) == (case == "plain") for e in loaded)
        result = atb_cli(["models", "compare", "BTCUSDT", "--models-dir", str(models), "--json"])
        assert result.code == 0, result.err
        scored[case] = json.loads(result.out)["rows"]
    assert scored["plain"] == scored["clean"] == scored["poisoned"]
    # compare() given a whole table (validation rows included) keeps its test rows too
    whole = Entry(base.label, base.metadata, with_validation(base, poison=True))
    assert json.dumps(compare([whole, other]).to_dict()) == json.dumps(compare([base, other]).to_dict())  # NaN too
