"""`atb doctor` catches each fault it is meant to catch, planted in atb's own pipeline: a model whose output
ignores its input, a target shifted by one bar, a scaler fitted on all rows, a leaked feature (a price spike:
tests/unit/test_doctor_data.py). Each test trains tiny models (a test architecture registered as a plugin would
be) on the doctor's markets through train_model, into a temporary registry.

The end-to-end test runs the CLI over a user's registry and run log and proves it writes nothing of theirs."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atb.doctor import settings as doctor_settings
from atb.doctor.leakage import causal_check
from atb.doctor.result import Status
from atb.doctor.runner import DoctorRuns
from atb.doctor.settings import Preset, make_doctor_settings
from atb.models import registry
from atb.models.registry import Architecture

pytestmark = pytest.mark.slow

MLP = Architecture("last_bars_mlp", "fakes.last_bars_mlp", "Last-bars MLP", "tab:olive")
CONSTANT = Architecture("constant_output", "fakes.constant_output", "Constant output", "tab:brown")
TINY = Preset("test", target_bars=720, epochs=10, seeds=1, variant="lightweight")  # 109 test windows


@pytest.fixture
def fakes(data_dir: Path):
    for arch in (MLP, CONSTANT):
        registry.register(arch)
    yield
    for arch in (MLP, CONSTANT):
        registry.unregister(arch.name)


def _runs(tmp_path: Path, models: str) -> DoctorRuns:
    settings = dataclasses.replace(make_doctor_settings(quick=True, models=models), preset=TINY, device="cpu")
    return DoctorRuns(settings, tmp_path / "doctor-models", lambda message: None)


def _status(results) -> dict[str, Status]:
    return {r.name: r.status for r in results}


def test_a_model_that_ignores_its_input_fails_learning_and_known_signal(fakes, tmp_path) -> None:
    runs = _runs(tmp_path, "last_bars_mlp,constant_output")
    mlp, constant = "last_bars_mlp (lightweight)", "constant_output (lightweight)"
    assert _status(runs.learning()) == {mlp: Status.PASS, constant: Status.FAIL}
    signal, _ = runs.known_signal()
    assert _status(signal) == {mlp: Status.PASS, constant: Status.FAIL}
    assert "60% required" in next(r for r in signal if r.name == constant).detail
    assert runs.audit_own().status is Status.PASS  # today's pipeline writes versions that recompute


def _patch_dataset(monkeypatch, change) -> None:
    """Plant a bug in the pipeline: every Dataset train_model builds goes through `change` first."""
    from atb.training import pipeline

    real = pipeline.build_dataset
    monkeypatch.setattr(pipeline, "build_dataset",
                        lambda candles, timeframe, **kw: change(real(candles, timeframe, **kw), candles, timeframe))


def test_a_target_shifted_by_one_bar_fails_known_signal(fakes, tmp_path, monkeypatch) -> None:
    def shift(ds, candles, timeframe):
        targets = np.full_like(ds.targets, np.nan)
        targets[1:] = ds.targets[:-1]  # the label of window t becomes the return into its own last close
        return dataclasses.replace(ds, targets=targets)

    _patch_dataset(monkeypatch, shift)
    (result,), _ = _runs(tmp_path, "last_bars_mlp").known_signal()
    assert result.status is Status.FAIL and result.figures["rmse_skill"] < 0


def test_a_scaler_fitted_on_all_rows_fails_the_audit(fakes, tmp_path, monkeypatch) -> None:
    from atb.features.indicators import FEATURES, compute_features
    from atb.features.scaler import Scaler

    def fit_on_all_rows(ds, candles, timeframe):
        raw = compute_features(candles, timeframe)[FEATURES].to_numpy(np.float64)
        targets = ds.targets.astype(np.float64) * ds.scaler.target_std
        every = np.concatenate(list(ds.anchors.values()))
        scaler = Scaler.fit(raw, targets[every], FEATURES)  # validation and test rows included: the bug
        return dataclasses.replace(ds, features=scaler.transform(raw), scaler=scaler,
                                   targets=(targets / scaler.target_std).astype(np.float32))

    _patch_dataset(monkeypatch, fit_on_all_rows)
    runs = _runs(tmp_path, "last_bars_mlp")
    runs.known_signal()
    audit = runs.audit_own()
    assert audit.status is Status.FAIL and "scaler.json is not fitted on the training rows" in audit.summary


def test_a_leaked_feature_fails_the_causal_check_the_known_signal_and_the_placebo(fakes, tmp_path,
                                                                                    monkeypatch) -> None:
    from atb.features import dataset

    real = dataset.compute_features

    def leaky(candles: pd.DataFrame, timeframe: str) -> pd.DataFrame:
        frame = real(candles, timeframe)
        frame["log_volume_z"] = np.log(candles["close"]).diff().shift(-1).to_numpy()  # the next bar's return
        return frame

    monkeypatch.setattr(dataset, "compute_features", leaky)
    runs = _runs(tmp_path, "last_bars_mlp")
    (signal,), candles = runs.known_signal()
    assert signal.status is Status.FAIL and signal.summary.startswith("too good to be true")
    causal = causal_check(candles, "1h", "the test market")
    assert causal.status is Status.FAIL and causal.figures["leaking"] == ["log_volume_z"]
    (placebo,) = runs.placebo()
    assert placebo.status is Status.FAIL and placebo.figures["p_holm"] < 0.05


def _snapshot(models: Path, db: Path) -> dict:
    files = {str(p.relative_to(models)): (p.stat().st_size, p.stat().st_mtime_ns)
             for p in sorted(models.rglob("*")) if p.is_file() and not p.is_symlink()}
    links = {str(p.relative_to(models)): os.readlink(p) for p in models.rglob("latest")}
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, version_id, status FROM training_runs ORDER BY id").fetchall()
    return {"files": files, "links": links, "runs": rows}


def test_the_cli_doctor_checks_a_user_version_and_writes_nothing_of_theirs(fakes, data_dir, tmp_path, monkeypatch,
                                                                             atb_cli) -> None:
    from atb.training.pipeline import train_model
    from atb.training.request import TrainRequest

    models = tmp_path / "user-models"
    monkeypatch.setenv("ATB_MODELS_DIR", str(models))
    user = train_model(TrainRequest(symbol="BTCUSDT", architecture=MLP.name, variant="lightweight", days=10, epochs=2,
                                    data_source="synthetic", device="cpu"))  # logged to the run log, as a user's
    db = data_dir / "atb.sqlite"
    before = _snapshot(models, db)
    assert before["runs"] and before["links"]

    monkeypatch.setitem(doctor_settings.PRESETS, "quick", TINY)
    result = atb_cli(["doctor", "BTCUSDT", "--data-source", "synthetic", "--models", MLP.name, "--quick", "--json",
                      "--device", "cpu"])
    assert result.code == 0, result.out + result.err
    report = json.loads(result.out)
    assert report["status"] in ("PASS", "WARN")
    checks = {(c["family"], c["name"]): c for c in report["checks"]}
    assert {family for family, _ in checks} == {"data", "learning", "signal", "placebo", "leakage", "audit"}
    assert checks[("audit", user.version_dir.name)]["status"] == "PASS"
    assert checks[("audit", "the doctor's fresh versions")]["status"] == "PASS"
    assert _snapshot(models, db) == before


def test_the_benchmark_with_doctor_includes_its_checklist(fakes, tmp_path, monkeypatch, atb_cli) -> None:
    monkeypatch.setitem(doctor_settings.PRESETS, "quick", TINY)
    out, models = tmp_path / "out", tmp_path / "models"
    result = atb_cli(["bench", "phase1", "--quick", "--models", f"{MLP.name}:lightweight", "--data-source", "synthetic",
                      "--days", "7", "--epochs", "2", "--models-dir", str(models), "--no-db", "--output-dir", str(out),
                      "--doctor", "--device", "cpu"])
    assert result.code == 0, result.err
    results = json.loads((out / "phase1_results.json").read_text())
    doctor = results["doctor"]
    assert results["settings"]["doctor"] is True and doctor["status"] in ("PASS", "WARN")
    audited = [c for c in doctor["checks"] if c["family"] == "audit" and c["name"] == results["runs"][0]["version_id"]]
    assert audited and audited[0]["status"] == "PASS"  # the benchmark's newest version, audited
    report = (out / "phase1_report.md").read_text()
    assert "## Doctor: no signal, or a bug?" in report
    assert f"| PASS | known-signal recovery: {MLP.name} (lightweight) |" in report
    assert "known-signal recovery" in result.out  # and the checklist is printed


def test_the_audit_of_a_version_trained_on_a_file_catches_edited_predictions_and_metrics(fakes, tmp_path) -> None:
    from atb.data.synthetic import synthetic_candles
    from atb.doctor.audit import audit_version, version_candles
    from atb.registry.store import read_metadata
    from atb.training.pipeline import train_model
    from atb.training.request import TrainRequest

    candles = synthetic_candles(600, symbol="TEST", seed=5).drop(index=range(200, 203)).reset_index(drop=True)
    path = tmp_path / "candles.csv"
    candles.to_csv(path, index=False)
    outcome = train_model(TrainRequest(symbol="TEST", architecture=MLP.name, variant="lightweight", days=12, epochs=1,
                                       data_source="file", data_file=str(path), models_dir=tmp_path / "m",
                                       device="cpu", log_to_db=False))
    version = outcome.version_dir

    def audit():
        span, note = version_candles(read_metadata(version), candles)
        return audit_version(version, span, note, version.name)

    clean = audit()
    assert clean.status is Status.PASS, clean.summary
    assert "scaler.json = the statistics" in clean.summary and "closes" in clean.summary

    predictions = pd.read_parquet(version / "predictions.parquet")
    shifted = predictions.assign(actual_close=predictions["actual_close"].shift(-1).fillna(predictions["last_close"]))
    shifted.to_parquet(version / "predictions.parquet", index=False)  # the target one bar late
    bad = audit()
    assert bad.status is Status.FAIL and "actual_close is not the close at the target time" in bad.summary
    assert "metrics differ from predictions.parquet" in bad.summary  # metadata no longer follows from the file

    predictions.to_parquet(version / "predictions.parquet", index=False)
    meta = json.loads((version / "metadata.json").read_text())
    meta["data"]["validation"]["start"] = meta["data"]["train"]["end"]  # overlapping splits
    (version / "metadata.json").write_text(json.dumps(meta))
    overlap = audit()
    assert overlap.status is Status.FAIL and overlap.summary.startswith("splits:")
