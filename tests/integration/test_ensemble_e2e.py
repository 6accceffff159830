"""`atb train ensemble` end to end on the synthetic market: three trained members (one with a shorter window), the
ensemble version, and everything a user does with it — metrics and the backtest recomputed from its
predictions.parquet, model.onnx alone reproducing its forecasts, `atb predict`, compare, show, list, backtest —
then `--from-benchmark` and the benchmark's `--ensemble` on a small synthetic benchmark."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from typer.testing import CliRunner

from atb.cli.main import app
from atb.data.synthetic import synthetic_candles
from atb.evaluation.stats import diebold_mariano
from atb.features.indicators import FEATURES, compute_features
from atb.features.scaler import Scaler
from atb.registry.version_id import VersionId
from fakes import trading

pytestmark = pytest.mark.slow
runner = CliRunner()
FOLDER = "BTCUSDT-SYNTHETIC"
MEMBERS = (("cnn_lstm", 60), ("attention_lstm", 40), ("tcn", 60))  # (architecture, sequence length)


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    os.environ["ATB_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    for arch, length in MEMBERS:
        cli("train", "model", "BTCUSDT", "--model-type", arch, "--model-variant", "lightweight", "--days", "12",
            "--epochs", "1", "--sequence-length", str(length), "--data-source", "synthetic", "--models-dir",
            str(root), "--no-db", "--json")
    names = ",".join(p.name for p in members(root))
    cli("train", "ensemble", FOLDER, "--members", names, "--models-dir", str(root), "--no-db", "--json")
    return root


def members(root: Path) -> list[Path]:
    return sorted(p for p in (root / FOLDER / "price").iterdir() if "_ensemble_" not in p.name and p.name[0].isdigit())


def ensemble_dir(root: Path, method: str = "nnls") -> Path:
    return next(p for p in sorted((root / FOLDER / "price").iterdir()) if p.name.endswith(f"_ensemble_{method}"))


def read(path: Path) -> tuple[dict, pd.DataFrame]:
    return json.loads((path / "metadata.json").read_text()), pd.read_parquet(path / "predictions.parquet")


def test_the_ensemble_is_a_complete_version(registry):
    path = ensemble_dir(registry)
    meta, table = read(path)
    assert {p.name for p in path.iterdir()} == {"metadata.json", "model.onnx", "scaler.json", "predictions.parquet"}
    assert os.readlink(registry / FOLDER / "price" / "latest") == path.name
    assert (VersionId.parse(path.name).architecture, VersionId.parse(path.name).variant) == ("ensemble", "nnls")
    tp, ens = meta["training_params"], meta["ensemble"]
    assert (tp["architecture"], tp["architecture_variant"], tp["sequence_length"]) == ("ensemble", "nnls", 60)
    assert ens["members"] == [p.name for p in members(registry)] and ens["fitted_on"] == "validation"
    assert len(ens["weights"]) == 3 and min(ens["weights"]) >= 0
    lengths = [json.loads((m / "metadata.json").read_text())["training_params"]["sequence_length"]
               for m in members(registry)]
    assert [m["sequence_length"] for m in ens["member_details"]] == lengths and sorted(lengths) == [40, 60, 60]
    assert meta["onnx"]["max_abs_diff"] <= 1e-4 and meta["onnx"]["input_shape"] == ["batch", 60, len(FEATURES)]
    assert ens["predictions_max_abs_diff"] <= 1e-6  # model.onnx alone vs predictions.parquet, recorded
    scaler = json.loads((path / "scaler.json").read_text())
    assert (scaler["mean"], scaler["std"], scaler["target_std"]) == ([0.0] * 17, [1.0] * 17, 1.0)
    assert meta["data"]["synthetic"] is True and meta["symbol"] == "BTCUSDT"
    # the best member is the one with the lowest validation MSE, from the members' own files
    mse = {}
    for m in members(registry):
        v = pd.read_parquet(m / "predictions.parquet").query("split == 'validation'")
        mse[m.name] = np.mean((v.predicted_close - v.actual_close) ** 2)
    assert ens["best_member"] == min(mse, key=mse.get)
    assert [d["validation_mse"] for d in ens["member_details"]] == pytest.approx(list(mse.values()))


def test_its_forecasts_are_the_weights_on_the_members_and_every_metric_recomputes(registry):
    meta, table = read(ensemble_dir(registry))
    ens, ev = meta["ensemble"], meta["evaluation_results"]
    tables = [pd.read_parquet(m / "predictions.parquet") for m in members(registry)]
    returns = np.column_stack([np.log(t.predicted_close / t.last_close) for t in tables])
    expected = table.last_close * np.exp(ens["intercept"] + returns @ np.array(ens["weights"]))
    np.testing.assert_allclose(table.predicted_close, expected, rtol=1e-12)
    assert (table.split == tables[0].split).all() and (table.target_time == tables[0].target_time).all()
    p = table[table.split == "test"]
    err, naive = p.predicted_close - p.actual_close, p.last_close - p.actual_close
    assert ev["test_rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
    assert ev["test_mae"] == pytest.approx(np.mean(np.abs(err)))
    assert ev["naive_test_rmse"] == pytest.approx(np.sqrt(np.mean(naive**2)))
    assert ev["dm_vs_naive"]["p_value"] == pytest.approx(diebold_mariano(err, naive).p_value)
    hits = np.sign(p.predicted_close - p.last_close) == np.sign(p.actual_close - p.last_close)
    moved = p.actual_close != p.last_close
    assert ev["directional_accuracy"] == pytest.approx(100 * hits[moved].mean())
    for detail, t in zip(ens["member_details"], tables, strict=True):  # DM vs every member, on test
        member_err = t[t.split == "test"].predicted_close - p.actual_close.to_numpy()
        dm = diebold_mariano(err.to_numpy(), member_err.to_numpy())
        assert detail["dm_ensemble_vs_member"]["p_value_one_sided"] == pytest.approx(dm.p_value_one_sided)
        if detail["version_id"] == ens["best_member"]:
            assert ens["dm_vs_best_member"]["statistic"] == pytest.approx(dm.statistic)
    trading.assert_same(meta["backtest"], trading.backtest(table))


def windows(candles: pd.DataFrame, times: pd.Series, length: int) -> np.ndarray:
    raw = compute_features(candles, "1h")[FEATURES].to_numpy(np.float64)
    rows = candles["open_time"].searchsorted(pd.DatetimeIndex(times)) - 1  # the candle before each target time
    return np.stack([raw[r - length + 1: r + 1] for r in rows])


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0].reshape(-1).astype(np.float64)


def members_combined(root: Path, meta: dict, window: np.ndarray) -> np.ndarray:
    """Each member's own scaler and own model.onnx on its last rows of the windows, combined in numpy."""
    total = np.full(len(window), meta["ensemble"]["intercept"])
    for m, w in zip(members(root), meta["ensemble"]["weights"], strict=True):
        length = json.loads((m / "metadata.json").read_text())["training_params"]["sequence_length"]
        scaler = Scaler.from_dict(json.loads((m / "scaler.json").read_text()))
        scaled = np.stack([scaler.transform(x[-length:]) for x in window])
        total += w * run_onnx(m / "model.onnx", scaled) * scaler.target_std
    return total


def test_model_onnx_alone_reproduces_the_predictions_and_the_members_own_onnx(registry):
    path = ensemble_dir(registry)
    meta, table = read(path)
    last = pd.Timestamp(meta["data"]["last_candle"])
    candles = synthetic_candles(meta["data"]["rows"], symbol="BTCUSDT", end=last)
    assert candles["open_time"].iloc[0] == pd.Timestamp(meta["data"]["first_candle"])
    x = windows(candles, table.target_time, 60)
    out = run_onnx(path / "model.onnx", x)
    np.testing.assert_allclose(np.log(table.predicted_close / table.last_close), out, rtol=0, atol=1e-6)
    np.testing.assert_allclose(members_combined(registry, meta, x), out, rtol=0, atol=1e-6)


def test_atb_predict_runs_on_it_and_equals_the_composite_and_the_members_on_the_same_candles(registry):
    from atb.inference.candles import newest_candles
    from atb.inference.predict import forecast_next

    path = ensemble_dir(registry)
    meta, _ = read(path)
    shown = json.loads(cli("predict", FOLDER, "--data-source", "synthetic", "--models-dir", str(registry), "--json"))
    assert shown["version"] == path.name
    from atb.inference.forecaster import FEATURE_MEMORY_BARS

    candles = newest_candles("synthetic", "BTCUSDT", "1h", 60 + FEATURE_MEMORY_BARS)  # what `atb predict` loads
    raw = compute_features(candles, "1h")[FEATURES].to_numpy(np.float64)[-60:]
    last_close = candles["close"].iloc[-1]
    composite = run_onnx(path / "model.onnx", raw[None])[0]
    assert shown["predicted_close"] == pytest.approx(last_close * np.exp(composite), rel=1e-12)
    own_onnx = members_combined(registry, meta, raw[None])[0]
    assert shown["predicted_close"] == pytest.approx(last_close * np.exp(own_onnx), rel=1e-6)
    # ... and each member's own forecast from the same candles, combined
    own = [np.log(forecast_next(m, candles).predicted_close / last_close) for m in members(registry)]
    combined = meta["ensemble"]["intercept"] + np.dot(meta["ensemble"]["weights"], own)
    assert shown["predicted_close"] == pytest.approx(last_close * np.exp(combined), rel=1e-6)


def test_compare_show_list_and_backtest_read_it(registry, atb_cli):
    path = ensemble_dir(registry)
    compared = json.loads(cli("models", "compare", FOLDER, "--models-dir", str(registry), "--json"))
    row = next(r for r in compared["rows"] if r["architecture"] == "ensemble")
    assert row["label"] == "ensemble (nnls)" and row["version"] == path.name and row["dm_vs_baseline"] is not None
    shown = atb_cli(["models", "show", FOLDER, "--models-dir", str(registry)])
    assert shown.code == 0 and "ensemble of 3 members, nnls weights fitted on validation" in shown.out
    listed = json.loads(cli("models", "list", FOLDER, "--models-dir", str(registry), "--json"))
    assert {(r["architecture"], r["variant"]) for r in listed if r["version"] == path.name} == {("ensemble", "nnls")}
    tested = atb_cli(["backtest", FOLDER, "--models-dir", str(registry), "--json"])
    assert tested.code == 0, tested.err
    trading.assert_same(json.loads(tested.out), trading.backtest(pd.read_parquet(path / "predictions.parquet")))


@pytest.mark.parametrize("method", ["mean", "ridge"])
def test_the_other_methods(registry, method):
    from atb.ensemble.build import EnsembleRequest, build_ensemble

    outcome = build_ensemble(EnsembleRequest(members=members(registry), method=method, log_to_db=False))
    ens = outcome.metadata.ensemble
    assert outcome.version_dir.name.endswith(f"_ensemble_{method}")
    if method == "mean":
        assert ens.weights == [1 / 3] * 3 and ens.intercept == 0.0 and ens.fitted_on == "none"
    else:
        assert ens.fit["penalty"] in ens.fit["penalties"] and ens.fitted_on == "validation"
    assert ens.predictions_max_abs_diff <= 1e-6


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> Path:
    from atb.benchmark.phase1 import run_phase1
    from atb.benchmark.settings import make_settings

    out = tmp_path_factory.mktemp("bench")
    os.environ["ATB_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    settings = make_settings(quick=True, full=False, data_source="synthetic", models="cnn_lstm:lightweight,"
                             "tcn:lightweight", seeds=2, epochs=1, models_dir=out / "m", output_dir=out / "out",
                             log_to_db=False, ensemble=True)
    run_phase1(settings)
    return out


def test_the_benchmark_adds_an_ensemble_per_seed_to_the_summary_report_and_decision(benchmark):
    results = json.loads((benchmark / "out/phase1_results.json").read_text())
    built = [r for r in results["runs"] if r["architecture"] == "ensemble"]
    assert [(r["seed"], r["fold"], r["status"]) for r in built] == [(42, 1, "completed"), (43, 1, "completed")]
    assert results["counts"] == {"runs": 6, "completed": 6, "failed": 0, "not_run": 0}
    assert "ensemble (nnls)" in [r["label"] for r in results["summary"]["rows"]]
    versus = results["ensemble_vs_best_single"]
    # the best single model is decided on the members' validation rows, pooled over seeds
    mse = {}
    for r in results["runs"]:
        if r["architecture"] != "ensemble":
            v = pd.read_parquet(Path(r["version_dir"]) / "predictions.parquet").query("split == 'validation'")
            mse.setdefault(f"{r['architecture']} ({r['variant']})", []).extend((v.predicted_close - v.actual_close)
                                                                              ** 2)
    assert versus["best_single"] == min(mse, key=lambda k: np.mean(mse[k]))
    report = (benchmark / "out/phase1_report.md").read_text()
    assert "| ensemble (nnls)" in report and "vs the best single model" in report
    assert results["decision"]["ensemble"]["best_single"] == versus["best_single"]


def test_from_benchmark_builds_one_ensemble_per_seed_and_fold(benchmark):
    results = benchmark / "out/phase1_results.json"
    shown = json.loads(cli("train", "ensemble", "BTCUSDT", "--from-benchmark", str(results), "--method", "mean",
                           "--no-db", "--json"))
    assert shown["failed"] == [] and [(b["seed"], b["fold"]) for b in shown["built"]] == [(42, 1), (43, 1)]
    for b in shown["built"]:
        assert b["ensemble"]["weights"] == [0.5, 0.5] and Path(b["version_dir"]).is_dir()
        assert b["extra"]["seed"] == b["seed"] and len(b["ensemble"]["members"]) == 2
