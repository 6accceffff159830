"""`--workers K` with real (tiny) trainings: the same seeded runs give the same metrics whatever K and whichever
worker ran them; a killed worker fails its run and the others complete; registry and run log stay right."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atb.benchmark.executors import ProcessExecutor
from atb.benchmark.plan import make_plan, resolve_last_candle
from atb.benchmark.runner import run_plan
from atb.benchmark.settings import make_settings
from atb.registry.store import ModelStore, read_metadata
from atb.tracking.engine import dispose_all, get_engine
from atb.tracking.schema import TrainingEpoch, TrainingRun
from fakes import workers

pytestmark = pytest.mark.slow

DETERMINISTIC = ("test_rmse", "test_mae", "mape", "directional_accuracy", "naive_test_rmse", "rmse_skill_vs_naive",
                 "dm_vs_naive_p", "epochs_run")
FOLDER = "BTCUSDT-SYNTHETIC"


def tiny(tmp_path: Path, name: str, **kw):
    return make_settings(**{"quick": True, "full": False, "data_source": "synthetic", "days": 7, "epochs": 2,
                            "models": "cnn_lstm:lightweight", "seeds": 2, "threads": 1,
                            "models_dir": tmp_path / name, "output_dir": tmp_path / f"out-{name}", **kw})


@pytest.fixture
def run_log(tmp_path, monkeypatch):
    monkeypatch.setenv("ATB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ATB_DB", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)  # the default SQLite file under ATB_DATA_DIR
    yield
    dispose_all()


def test_same_metrics_whatever_the_number_of_workers(tmp_path, run_log) -> None:
    serial = tiny(tmp_path, "k1", log_to_db=False)
    parallel = tiny(tmp_path, "k2", workers=2)
    plan = make_plan(serial, resolve_last_candle(serial))
    one = run_plan(serial, plan)
    two = run_plan(parallel, make_plan(parallel, resolve_last_candle(parallel)))
    assert [r.index for r in two] == [r.index for r in one] and all(r.ok for r in one + two)
    for a, b in zip(one, two, strict=True):
        assert (a.architecture, a.seed, a.test_start, a.test_end) == (b.architecture, b.seed, b.test_start, b.test_end)
        for key in DETERMINISTIC:
            assert b.metrics[key] == pytest.approx(a.metrics[key], rel=1e-6), (a.label, key)

    # the registry: every version complete, `latest` on one of them, nothing left in the workers' scratch
    store = ModelStore(tmp_path / "k2")
    versions = {v.name for v in store.versions(FOLDER)}
    assert versions == {r.version_id for r in two}
    assert store.latest_name(FOLDER) in versions
    for r in two:
        assert read_metadata(Path(r.version_dir)).version_id == r.version_id
        assert (Path(r.version_dir) / "model.onnx").is_file()
    assert sorted(p.name for p in (tmp_path / "k2").iterdir()) == [FOLDER]

    # the run log: one completed row per run, written by the driver, with its epochs
    with Session(get_engine()) as session:
        rows = session.scalars(select(TrainingRun)).all()
        assert sorted(r.version_id for r in rows) == sorted(versions)
        assert all(r.status == "completed" and r.test_rmse is not None for r in rows)
        epochs = session.scalars(select(TrainingEpoch)).all()
        assert len(epochs) == sum(r.metrics["epochs_run"] for r in two)


def test_a_killed_worker_fails_its_run_and_the_benchmark_goes_on(tmp_path) -> None:
    settings = tiny(tmp_path, "kill", workers=2, log_to_db=False)
    plan = make_plan(settings, resolve_last_candle(settings))
    records = run_plan(settings, plan, executor=ProcessExecutor(2, work=workers.train_or_kill))
    by_seed = {r.seed: r for r in records}
    assert by_seed[workers.KILL_SEED].status == "failed" and "died" in by_seed[workers.KILL_SEED].error
    assert by_seed[42].ok and by_seed[42].metrics["test_rmse"] > 0
    assert ModelStore(tmp_path / "kill").latest_name(FOLDER) == by_seed[42].version_id


def test_ctrl_c_keeps_finished_runs_and_stops_the_workers(tmp_path) -> None:
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "out"
    cmd = [sys.executable, str(root / "scripts" / "phase1_benchmark.py"), "--quick", "--data-source", "synthetic",
           "--days", "7", "--epochs", "2", "--models", "cnn_lstm:lightweight", "--seeds", "4", "--workers", "2",
           "--threads", "1", "--no-db", "--models-dir", str(tmp_path / "m"), "--output-dir", str(out)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, "ATB_DATA_DIR": str(tmp_path / "data")})
    for line in proc.stderr:  # the first finished run
        if "✓" in line:
            break
    children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, rest
    assert "Traceback" not in rest
    data = json.loads((out / "phase1_results.json").read_text())
    assert data["status"] == "interrupted" and 1 <= data["counts"]["completed"] < 4
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in children):
        time.sleep(0.2)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "worker processes left behind"
    assert not any(p.name.startswith(".workers-") for p in (tmp_path / "m").iterdir())
