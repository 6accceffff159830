"""End to end: `atb train model` for each architecture on the synthetic market, then everything a user
does with the result — artifacts, metadata, metrics recomputed from predictions.parquet, predict,
list/show/compare — and the one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from atb.cli.main import app
from atb.data.synthetic import synthetic_candles
from atb.evaluation.stats import diebold_mariano
from atb.models.registry import names
from atb.registry.metadata import SCHEMA_VERSION
from atb.registry.predictions import keep_test
from atb.registry.version_id import VersionId
from fakes import trading

pytestmark = pytest.mark.slow
ARCHITECTURES = names()  # the built-in ones (a test may register more later)
runner = CliRunner()
DAYS, EPOCHS = 12, 2


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    os.environ["ATB_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    for arch in ARCHITECTURES:
        result = runner.invoke(app, ["train", "model", "BTCUSDT", "--model-type", arch, "--days", str(DAYS),
                                     "--epochs", str(EPOCHS), "--data-source", "synthetic", "--models-dir",
                                     str(root), "--no-db", "--json"])
        assert result.exit_code == 0, result.output
    return root


def versions(root: Path) -> list[Path]:
    return sorted(p for p in (root / "BTCUSDT-SYNTHETIC/price").iterdir() if not p.name.startswith((".", "latest")))


def last_trained(root: Path) -> Path:
    """The fixture trains the table's architectures in order (names of one second do not sort by time)."""
    return next(v for v in versions(root) if VersionId.parse(v.name).architecture == ARCHITECTURES[-1])


def test_each_architecture_produces_a_complete_version(registry):
    found = versions(registry)
    assert len(found) == len(ARCHITECTURES)
    archs = set()
    for v in found:
        for f in ("model.safetensors", "model.onnx", "metadata.json", "predictions.parquet", "scaler.json"):
            assert (v / f).is_file(), f"{v.name} lacks {f}"
        meta = json.loads((v / "metadata.json").read_text())
        archs.add(meta["training_params"]["architecture"])
        assert meta["schema_version"] == SCHEMA_VERSION
        assert meta["version_id"] == v.name and v.name.startswith("20")
        assert VersionId.parse(v.name).architecture == meta["training_params"]["architecture"]
        assert meta["data"]["synthetic"] is True and meta["symbol"] == "BTCUSDT"
        assert meta["onnx"]["max_abs_diff"] <= 1e-4
    assert archs == set(ARCHITECTURES)
    latest = registry / "BTCUSDT-SYNTHETIC/price/latest"
    assert latest.is_symlink() and os.readlink(latest) == last_trained(registry).name
    assert not (registry / "BTCUSDT").exists()  # synthetic runs never touch the real symbol's folder


def test_guide_jq_queries_return_numbers(registry):
    meta = json.loads((registry / "BTCUSDT-SYNTHETIC/price/latest/metadata.json").read_text())
    ev = meta["evaluation_results"]
    for key in ("test_rmse", "test_mae", "mape", "directional_accuracy", "naive_test_rmse", "rmse_skill_vs_naive"):
        assert isinstance(ev[key], float) and np.isfinite(ev[key]), key
    assert meta["training_params"]["architecture"] in ARCHITECTURES
    assert meta["training_params"]["architecture_variant"] == "default"
    perf = meta["performance"]
    assert perf["training_time_s"] > 0 and perf["parameters"] > 0 and perf["inference_ms_p50"] > 0
    if meta["training_params"]["architecture"] == "tcn":
        assert meta["training_params"]["receptive_field"] >= meta["training_params"]["sequence_length"]


def version_of(root: Path, architecture: str) -> Path:
    return next(v for v in versions(root) if VersionId.parse(v.name).architecture == architecture)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_metric_recomputes_from_predictions(registry, architecture):
    v = version_of(registry, architecture)
    meta = json.loads((v / "metadata.json").read_text())
    ev = meta["evaluation_results"]
    table = pd.read_parquet(v / "predictions.parquet")
    assert list(table.columns) == ["target_time", "last_close", "actual_close", "predicted_close", "split"]
    counts = meta["data"]["validation"]["n"], meta["data"]["test"]["n"]
    assert table["split"].tolist() == ["validation"] * counts[0] + ["test"] * counts[1]
    p = table[table["split"] == "test"]  # every test metric: the test rows only
    err = p.predicted_close - p.actual_close
    naive = p.last_close - p.actual_close
    assert ev["test_rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
    assert ev["test_mae"] == pytest.approx(np.mean(np.abs(err)))
    assert ev["mape"] == pytest.approx(100 * np.mean(np.abs(err) / p.actual_close))
    assert ev["naive_test_rmse"] == pytest.approx(np.sqrt(np.mean(naive**2)))
    hits = np.sign(p.predicted_close - p.last_close) == np.sign(p.actual_close - p.last_close)
    assert ev["directional_accuracy"] == pytest.approx(100 * hits.mean())
    assert ev["predicted_up_pct"] == pytest.approx(100 * (p.predicted_close > p.last_close).mean())
    assert ev["actual_up_pct"] == pytest.approx(100 * (p.actual_close > p.last_close).mean())
    assert ev["dm_vs_naive"]["p_value"] == pytest.approx(diebold_mariano(err, naive).p_value)
    assert len(p) == meta["data"]["test"]["n"] == ev["test_windows"]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_backtest_recomputes_from_predictions_and_atb_backtest_agrees(registry, architecture, atb_cli):
    v = version_of(registry, architecture)
    meta = json.loads((v / "metadata.json").read_text())
    table = pd.read_parquet(v / "predictions.parquet")
    expected = trading.backtest(table)
    trading.assert_same(meta["backtest"], expected)
    assert meta["backtest"]["threshold_source"] == "validation"
    validation = table[table["split"] == "validation"]
    assert validation["target_time"].max() < table.loc[table["split"] == "test", "target_time"].min()
    shown = atb_cli(["backtest", "BTCUSDT-SYNTHETIC", "-v", v.name, "--models-dir", str(registry), "--json"])
    assert shown.code == 0, shown.err
    trading.assert_same(json.loads(shown.out), expected)


def test_the_pipeline_chooses_the_threshold_on_the_validation_rows_only(tmp_path, monkeypatch):
    import atb.backtest.run as backtest_run
    from atb.training.pipeline import TrainRequest, train_model

    seen = []
    choose = backtest_run.select_threshold

    def spy(validation, *args):
        seen.append(validation)
        return choose(validation, *args)

    monkeypatch.setattr(backtest_run, "select_threshold", spy)
    outcome = train_model(TrainRequest(symbol="BTCUSDT", architecture="tcn", variant="lightweight", days=8,
                                       epochs=1, data_source="synthetic", models_dir=tmp_path, log_to_db=False))
    (bars,) = seen
    table = pd.read_parquet(outcome.version_dir / "predictions.parquet")
    validation = table[table["split"] == "validation"]
    assert list(bars.target_time) == list(validation["target_time"])  # exactly the validation rows
    np.testing.assert_array_equal(bars.predicted_close, validation["predicted_close"].to_numpy())
    data = outcome.metadata.data
    assert (len(bars), bars.target_time[-1]) == (data.validation.n, pd.Timestamp(data.validation.end))
    assert bars.target_time[-1] < pd.Timestamp(data.test.start)


def test_a_longer_horizon_records_why_there_is_no_backtest(tmp_path, atb_cli):
    from atb.training.pipeline import TrainRequest, train_model

    outcome = train_model(TrainRequest(symbol="BTCUSDT", architecture="tcn", variant="lightweight", days=8,
                                       epochs=1, horizon=3, data_source="synthetic", models_dir=tmp_path,
                                       log_to_db=False))
    assert outcome.metadata.backtest == {"skipped": "the backtest supports horizon 1 only (got 3): a position lasts "
                                                    "one bar, so a 3-bar forecast has no bar-by-bar trade to score"}
    result = atb_cli(["backtest", "BTCUSDT-SYNTHETIC", "--models-dir", str(tmp_path)])
    assert result.code == 2 and result.err.count("\n") == 1 and "supports horizon 1 only (got 3)" in result.err


def test_naive_rmse_is_last_close_persistence_on_the_test_target_times(registry):
    v = versions(registry)[0]
    meta = json.loads((v / "metadata.json").read_text())
    p = keep_test(pd.read_parquet(v / "predictions.parquet"))
    candles = synthetic_candles(5000, symbol="BTCUSDT").set_index("open_time")["close"]
    actual = candles.loc[p.target_time].to_numpy()
    last = candles.loc[p.target_time - pd.Timedelta("1h")].to_numpy()
    assert meta["evaluation_results"]["naive_test_rmse"] == pytest.approx(np.sqrt(np.mean((last - actual) ** 2)))
    # the test split is the newest part and comes after validation and training
    assert meta["data"]["train"]["end"] < meta["data"]["validation"]["start"] <= meta["data"]["validation"]["end"]
    assert meta["data"]["validation"]["end"] < meta["data"]["test"]["start"]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_predict_with_onnx_matches_the_training_pipeline(registry, architecture):
    v = version_of(registry, architecture)
    p = keep_test(pd.read_parquet(v / "predictions.parquet")).iloc[-1]
    from atb.inference.predict import forecast_next

    candles = synthetic_candles(5000, symbol="BTCUSDT")
    candles = candles[candles.open_time < p.target_time].reset_index(drop=True)
    fc = forecast_next(v, candles)
    assert fc.target_time == p.target_time
    assert fc.last_close == pytest.approx(p.last_close)
    assert fc.predicted_close == pytest.approx(p.predicted_close, rel=1e-6)


def test_predict_cli_does_not_import_torch(registry):
    call = "run(['predict', 'BTCUSDT-SYNTHETIC', '--models-dir', sys.argv[1], '--data-source', 'synthetic', '--json'])"
    code = ("import sys; from atb.cli.main import run\n"
            f"try:\n    {call}\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code, str(registry)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.rsplit("}", 1)[0] + "}")
    assert result["predicted_close"] > 0 and result["data"] == "synthetic"


def test_models_list_show_compare(registry):
    listed = json.loads(runner.invoke(app, ["models", "list", "--models-dir", str(registry), "--json"]).stdout)
    assert len(listed) == len(ARCHITECTURES) and sum(r["latest"] for r in listed) == 1
    shown = runner.invoke(app, ["models", "show", "BTCUSDT-SYNTHETIC", "--models-dir", str(registry), "--json"])
    assert json.loads(shown.stdout)["version_id"] == last_trained(registry).name
    comp = runner.invoke(app, ["models", "compare", "BTCUSDT-SYNTHETIC", "--models-dir", str(registry), "--json"])
    data = json.loads(comp.stdout)
    labels = [r["label"] for r in data["rows"]]
    assert labels[-1] == "naive (last close)" and len(labels) == len(ARCHITECTURES) + 1
    assert data["baseline"] == "cnn_lstm (default)"
    for row in data["rows"]:
        if not row["is_baseline"] and not row["is_naive"]:
            assert row["rmse_improvement_pct"] is not None and 0 <= row["dm_vs_baseline"]["p_value"] <= 1
    table = runner.invoke(app, ["models", "compare", "BTCUSDT-SYNTHETIC", "--models-dir", str(registry)],
                          env={"COLUMNS": "200"})
    assert "Comparison vs cnn_lstm (default) baseline" in table.output and "RMSE Improvement" in table.output


def test_same_seed_same_result_on_cpu(tmp_path):
    results = []
    for run in range(2):
        r = runner.invoke(app, ["train", "model", "ETHUSDT", "--model-type", "tcn", "--variant", "lightweight",
                                "--days", "8", "--epochs", "3", "--data-source", "synthetic", "--device", "cpu",
                                "--models-dir", str(tmp_path / str(run)), "--no-db", "--json"])
        assert r.exit_code == 0, r.output
        results.append(json.loads(r.stdout)["evaluation_results"])
    assert results[0]["test_rmse"] == results[1]["test_rmse"]
    assert results[0]["val_loss"] == results[1]["val_loss"]


def test_atb_backtest_on_a_version_trained_from_real_candles_recomputes(tmp_path, data_dir, shared_data, atb_cli):
    trained = atb_cli(["train", "model", "BTCUSDT", "--model-type", "tcn", "--variant", "lightweight", "--days", "20",
                       "--epochs", "1", "--data-file", str(shared_data / "BTCUSDT_1h_2017-08_2022-12.csv"),
                       "--models-dir", str(tmp_path), "--no-db", "--json"])
    assert trained.code == 0, trained.err
    table = atb_cli(["backtest", "BTCUSDT", "--models-dir", str(tmp_path)])
    assert table.code == 0 and "buy & hold" in table.out and "momentum" in table.out
    result = atb_cli(["backtest", "BTCUSDT", "--models-dir", str(tmp_path), "--json"])
    shown = json.loads(result.out)
    trading.assert_same(shown, trading.backtest(pd.read_parquet(tmp_path / "BTCUSDT/price/latest/predictions.parquet")))
    assert shown["test_end"] == "2022-12-31T23:00:00Z" and shown["threshold_source"] == "validation"
    assert shown == {**shown, **json.loads(trained.out)["backtest"]}  # the figures the training run recorded


def test_end_date_includes_its_whole_day(tmp_path, data_dir, shared_data):
    r = runner.invoke(app, ["train", "model", "BTCUSDT", "--model-type", "tcn", "--variant", "lightweight",
                            "--days", "3", "--epochs", "1", "--end-date", "2022-12-30", "--data-file",
                            str(shared_data / "BTCUSDT_1h_2017-08_2022-12.csv"), "--models-dir", str(tmp_path),
                            "--no-db", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)["data"]
    # 2022-12-30 means that whole day: its last candle (23:00) is the newest target, not 00:00
    assert data["last_candle"] == data["test"]["end"] == "2022-12-30T23:00:00Z"


def atb(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "atb.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--model-type", "transformer"], 2, "unknown model type 'transformer'"),
        (["--variant", "huge"], 2, "unknown model variant 'huge'"),
        (["--days", "0"], 2, "--days must be positive"),
        (["--epochs", "-1"], 2, "--epochs must be at least 1"),
        (["--timeframe", "7h"], 2, "unknown timeframe '7h'"),
        (["--days", "3", "--batch-size", "5000"], 2, "larger than the training set"),
        (["--days", "1", "--sequence-length", "400"], 1, "too few usable windows"),
        (["--start-date", "2024-12-30", "--end-date", "2024-12-01"], 2, "is not before --end-date"),
        (["--data-file", "/nonexistent.csv"], 1, "/nonexistent.csv: no such file"),
        (["--device", "cuda"] if not __import__("torch").cuda.is_available() else ["--device", "tpu"], 2, "device"),
        (["--bogus"], 2, "No such option: --bogus"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path, args, code, message):
    base = ["train", "model", "BTCUSDT", "--epochs", "1", "--data-source", "synthetic", "--no-db",
            "--models-dir", str(tmp_path)]
    if "--data-file" in args:
        base.remove("--data-source"), base.remove("synthetic")
    result = atb(*base, *args)
    assert result.returncode == code, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("•")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("latest"))
