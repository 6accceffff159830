"""Work functions for benchmark.executors tests, importable by spawned worker processes (tests/ is on their path)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from atb.benchmark.executors import PID_FILE, Job, JobResult, run_job

KILL_SEED = 43  # the run with this seed kills its own worker process


def fake_version(job: Job) -> JobResult:
    """No torch: a small version folder in the job's staging registry, as run_job leaves a trained one."""
    stage = Path(job.request.models_dir)
    stage.mkdir(parents=True, exist_ok=True)
    (stage / PID_FILE).write_text(str(os.getpid()))
    time.sleep(0.05 * (job.spec.index % 3))  # finish out of plan order
    req = job.request
    name = f"2026-01-01_000000_{req.architecture}_{req.variant}"
    folder = stage / f"{req.symbol}-SYNTHETIC" / "price" / name
    folder.mkdir(parents=True)
    meta = {"version_id": name, "symbol": req.symbol,
            "training_params": {"architecture": req.architecture, "architecture_variant": req.variant,
                                "seed": req.seed, "threads": req.threads, "epochs_run": 1},
            "evaluation_results": {"test_rmse": 1.0 + req.seed, "naive_test_rmse": 2.0, "rmse_skill_vs_naive": 0.5,
                                   "dm_vs_naive": {"statistic": 1.0, "p_value": 0.5}},
            "performance": {"training_time_s": 0.1},
            "training_history": [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "lr": 0.001, "seconds": 0.1}],
            "data": {"test": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z", "n": 25}}}
    (folder / "metadata.json").write_text(json.dumps(meta))
    (folder / "model.onnx").write_bytes(b"onnx")
    return JobResult(job.spec.index, "completed", 0.1, folder=folder.parent.parent.name, name=name, path=str(folder))


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fake_or_kill(job: Job) -> JobResult:
    if job.request.seed == KILL_SEED:
        Path(job.request.models_dir).mkdir(parents=True, exist_ok=True)
        (Path(job.request.models_dir) / PID_FILE).write_text(str(os.getpid()))
        _kill_self()
    return fake_version(job)


def train_or_kill(job: Job) -> JobResult:
    """The real work unit, except that the KILL_SEED run's worker dies mid-run."""
    if job.request.seed == KILL_SEED:
        Path(job.request.models_dir).mkdir(parents=True, exist_ok=True)
        (Path(job.request.models_dir) / PID_FILE).write_text(str(os.getpid()))
        time.sleep(0.5)
        _kill_self()
    return run_job(job)


def ray_kill_once(job: Job) -> JobResult:
    """A Ray task whose first attempt loses its worker (SIGKILL); the retry makes a small fake version."""
    from atb.benchmark.executors import run_job_returning_files

    marker = Path(job.request.models_dir).parent / f"killed-{job.spec.index}"
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(os.getpid()))
        _kill_self()
    return run_job_returning_files(job, work=fake_version)
