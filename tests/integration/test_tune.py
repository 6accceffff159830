"""`atb tune` end to end on real candles: the objective never reads a test row, a study interrupted with Ctrl-C
resumes with its finished trials and publishes a tuned version (tuning metadata, test metrics that recompute from
predictions.parquet, a DM line against the default configuration), a killed worker's trial is marked failed and
the study goes on, and bad arguments are one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atb.registry.metadata import VersionMetadata
from atb.tuning import space
from atb.tuning import study as studies
from atb.tuning.local import SearchPlan, run_local
from atb.tuning.objective import PruningReporter, fit_trial
from atb.tuning.settings import TuneSettings
from atb.tuning.storage import resolve

SRC = Path(__file__).resolve().parents[2] / "src"
FILE = "BTCUSDT_1h_2017-08_2022-12.csv"
TINY = ["--days", "8", "--epochs", "3", "--threads", "1"]


@pytest.fixture
def candles(shared_data, tmp_path) -> Path:
    """The last 1,500 hours of the team's BTCUSDT file (fast to load), as a CSV of its own."""
    frame = pd.read_csv(shared_data / FILE)
    path = tmp_path / "btc_tail.csv"
    frame.tail(1500).to_csv(path, index=False)
    return path


def _settings(data_file: Path, **kw) -> TuneSettings:
    return TuneSettings(**{"symbol": "BTCUSDT", "architecture": "tcn", "days": 8, "epochs": 3, "data_source": "file",
                           "data_file": str(data_file), "threads": 1, **kw})


def test_the_objective_never_reads_a_test_row(candles, data_dir, tmp_path):
    frame = pd.read_csv(candles)
    poisoned = frame.copy()
    rows = poisoned.index[-15:]  # inside the last 15% of the 192 target times: the test split
    for col in ("open", "high", "low", "close"):
        poisoned.loc[rows, col] = poisoned.loc[rows, col] * 3.0
    poisoned_file = tmp_path / "poisoned.csv"
    poisoned.to_csv(poisoned_file, index=False)
    config = space.from_params({"channels": 16, "kernel_size": 3, "dense": 16, "dropout": 0.1,
                                "learning_rate": 1e-3, "batch_size": 32, "sequence_length": 24, "loss": "mse"}, "tcn")

    def value(path: Path) -> tuple[float, list[float]]:
        seen = []
        reporter = PruningReporter(lambda v, step: seen.append(v), lambda: False, RuntimeError)
        val, attrs = fit_trial(config, _settings(path), reporter)
        return val, seen, attrs["val_sharpe"]

    assert value(candles) == value(poisoned_file)  # objective, every epoch's value, the validation Sharpe


def _cli(args: list[str], data_dir: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "ATB_DATA_DIR": str(data_dir), "PYTHONPATH": str(SRC), "ATB_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "atb.cli.main", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_interrupted_study_resumes_and_publishes_a_tuned_version(candles, data_dir, tmp_path):
    models = tmp_path / "models"
    args = ["tune", "run", "BTCUSDT", "-m", "tcn", "--trials", "5", "--study", "s", "--data-file", str(candles),
            "--models-dir", str(models), *TINY]
    proc = _cli(args, data_dir)
    spec = resolve(None, "s")
    deadline = time.monotonic() + 240
    finished = 0
    while time.monotonic() < deadline and finished < 2:  # wait for two finished trials, then Ctrl-C
        time.sleep(0.3)
        if spec.path.exists():
            finished = studies.finished(studies.open_study("s", spec, create=False))
    assert finished >= 2, "no two trials finished in time"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "error: interrupted (Ctrl-C)" and "Traceback" not in err
    kept = studies.open_study("s", spec, create=False)
    before = {t.number: (t.state.name, t.value) for t in kept.trials if t.state.name in ("COMPLETE", "PRUNED")}
    assert len(before) >= 2, kept.trials
    assert not (models / "BTCUSDT").exists()  # nothing was published by the search

    proc = _cli(args, data_dir)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    study = studies.open_study("s", spec, create=False)
    assert studies.finished(study) == 5
    assert {t.number: (t.state.name, t.value) for t in study.trials if t.number in before} == before  # kept
    assert "tuned vs default: RMSE" in out and "DM one-sided p=" in out and "5 configurations were tried" in out

    versions = [v for v in (models / "BTCUSDT" / "price").iterdir() if v.name[0].isdigit() and not v.is_symlink()]
    assert len(versions) == 1 and versions[0].name.endswith("_tcn_tuned")  # the default run is not published
    doc = json.loads((versions[0] / "metadata.json").read_text())
    tuning = doc["tuning"]
    assert tuning["study"] == "s" and tuning["n_trials"] == 5 and tuning["best_params"] == study.best_params
    assert tuning["best_val_loss"] == pytest.approx(study.best_value)
    assert tuning["n_pruned"] == sum(t.state.name == "PRUNED" for t in study.trials)
    meta = VersionMetadata.from_json(doc)
    assert meta.search_trials() == (5, pytest.approx(tuning["trial_sharpe_var"]))
    assert doc["backtest"]["n_trials"] == 5  # the version's own backtest deflates by the N tried
    best = space.from_params(study.best_params, "tcn")
    assert doc["model_config"]["channels"] == best.model_config["channels"]
    assert doc["training_params"]["sequence_length"] == best.sequence_length
    # the test metrics recompute from predictions.parquet
    table = pd.read_parquet(versions[0] / "predictions.parquet")
    p = table[table["split"] == "test"]
    err_t = p.predicted_close - p.actual_close
    assert doc["evaluation_results"]["test_rmse"] == pytest.approx(np.sqrt(np.mean(err_t**2)))
    cmp = tuning["default_configuration"]
    assert cmp["tuned_test_rmse"] == pytest.approx(doc["evaluation_results"]["test_rmse"])
    assert cmp["test_windows"] == len(p) and 0 <= cmp["dm_p_value_one_sided"] <= 1

    shown = _cli(["tune", "show", "s", "--json"], data_dir)
    out, err = shown.communicate(timeout=60)
    summary = json.loads(out)
    assert summary["best"]["number"] == study.best_trial.number and len(summary["trials"]) == len(study.trials)
    assert set(summary["trials"][0]) >= {"number", "state", "value", "params", "datetime_start",
                                        "datetime_complete", "user_attrs"}


def test_a_killed_worker_fails_its_trial_and_the_study_goes_on(candles, data_dir):
    settings = _settings(candles, epochs=12, patience=12)
    spec = resolve(None, "k")
    plan = SearchPlan("k", spec, settings, trials=3, workers=2)
    errors = []
    runner = threading.Thread(target=lambda: _catch(errors, run_local, plan))
    runner.start()
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        time.sleep(0.2)
        if spec.path.exists():
            study = studies.open_study("k", spec, create=False)
            running = [t for t in study.trials if t.state.name == "RUNNING" and "pid" in t.user_attrs]
            if running:
                victim = running[0]
    assert victim is not None
    os.kill(victim.user_attrs["pid"], signal.SIGKILL)
    runner.join(timeout=240)
    assert not runner.is_alive() and not errors, errors
    study = studies.open_study("k", spec, create=False)
    killed = study.trials[victim.number]
    assert killed.state.name == "FAIL" and "exited with -9" in killed.system_attrs["fail_reason"]
    assert studies.finished(study) >= 3  # the study went on to its target


def _catch(errors: list, fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as exc:  # the test thread reports it
        errors.append(exc)


@pytest.mark.parametrize("args, message", [
    (["--trials", "0"], "--trials must be at least 1"),
    (["--workers", "0"], "--workers must be at least 1"),
    (["--study", "a b"], "--study 'a b'"),
    (["--storage", "nosuchdriver://x/y"], "cannot open the study storage"),
    (["-m", "lstm9"], "unknown model type 'lstm9'"),
])
def test_bad_arguments_are_one_line_errors(args, message, atb_cli, data_dir):
    result = atb_cli(["tune", "run", "BTCUSDT", "--data-source", "synthetic", *TINY, *args])
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_the_run_log_database_is_refused_as_storage(atb_cli, data_dir, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = atb_cli(["tune", "run", "BTCUSDT", "--data-source", "synthetic", *TINY,
                      "--storage", f"sqlite:///{data_dir.absolute() / 'atb.sqlite'}"])
    assert result.code == 2 and "run-log database" in result.err


def test_show_of_an_unknown_study_is_one_line(atb_cli, data_dir):
    result = atb_cli(["tune", "show", "nope"])
    assert result.code == 2 and result.err.startswith("error: no study 'nope'")


def test_ray_arguments_are_one_line_errors(atb_cli, data_dir):
    result = atb_cli(["tune", "run", "BTCUSDT", "--data-source", "synthetic", *TINY, "--ray", "127.0.0.1:1",
                      "--workers", "2"])
    assert result.code == 2 and result.err.strip().startswith("error: --workers runs processes on this machine")
    result = atb_cli(["tune", "run", "BTCUSDT", "--data-source", "synthetic", *TINY, "--ray", "127.0.0.1:1"])
    last = result.err.strip().splitlines()[-1]
    assert result.code == 2 and "Traceback" not in result.err
    assert last.startswith("error: ") and ("cannot reach the Ray cluster" in last or "needs Ray" in last)
