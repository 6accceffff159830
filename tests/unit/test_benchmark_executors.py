"""benchmark.executors without torch: arguments, the driver's publishing and logging, a dead worker process."""

from __future__ import annotations

from pathlib import Path

import pytest

from atb.benchmark.executors import ProcessExecutor, make_executor, threads_per_worker
from atb.benchmark.plan import make_plan
from atb.benchmark.runner import run_plan
from atb.benchmark.settings import make_settings
from atb.errors import UsageError
from atb.registry.store import ModelStore
from fakes import workers


def settings(tmp_path: Path, **kw):
    return make_settings(**{"quick": True, "full": False, "data_source": "synthetic", "models_dir": tmp_path / "m",
                            "output_dir": tmp_path / "out", "models": "tcn:lightweight,cnn_lstm", "log_to_db": False,
                            **kw})


@pytest.mark.parametrize(("kw", "message"), [
    ({"workers": 0}, "--workers must be at least 1"),
    ({"workers": 2, "ray": "127.0.0.1:1"}, "--workers is for this machine"),
    ({"cpus_per_run": 2}, "--cpus-per-run is for --ray"),
    ({"ray": "127.0.0.1:1", "cpus_per_run": 0}, "--cpus-per-run must be positive"),
    ({"ray": "127.0.0.1:1", "gpus_per_run": -1}, "--gpus-per-run must be zero or more"),
])
def test_bad_arguments_are_usage_errors(tmp_path, monkeypatch, kw, message) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(UsageError, match=message):
        settings(tmp_path, **kw)


def test_cli_bad_workers_is_one_line(atb_cli, tmp_path) -> None:
    result = atb_cli(["bench", "phase1", "--quick", "--data-source", "synthetic", "--workers", "0",
                      "--output-dir", str(tmp_path)])
    assert result.code == 2 and result.err.strip().count("\n") == 0 and "--workers" in result.err


def test_executor_choice_and_threads(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert make_executor(settings(tmp_path)) is None  # serial: today's in-process loop
    assert isinstance(make_executor(settings(tmp_path, workers=2)), ProcessExecutor)
    assert threads_per_worker(settings(tmp_path, workers=2, threads=3)) == 3
    assert threads_per_worker(settings(tmp_path, workers=64)) == 1
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    s = settings(tmp_path, cpus_per_run=2)
    assert s.ray_address == "127.0.0.1:1" and type(make_executor(s)).__name__ == "RayExecutor"
    assert threads_per_worker(s) == 2 and s.to_dict()["ray"]["cpus_per_run"] == 2


class InProcess:
    """An executor that runs the work here (no processes), in reverse plan order."""

    def __init__(self, work):
        self.work = work
        self.jobs = []

    def run(self, jobs, on_result) -> None:
        self.jobs = jobs
        for job in reversed(jobs):
            on_result(self.work(job))


def test_driver_publishes_logs_and_orders_records(tmp_path, monkeypatch) -> None:
    s = settings(tmp_path, seeds=2, log_to_db=True, workers=2, threads=1)
    logged = []
    monkeypatch.setattr("atb.benchmark.executors.log_completed_run", logged.append)
    executor = InProcess(workers.fake_version)
    records = run_plan(s, make_plan(s, None), executor=executor)
    assert [r.index for r in records] == [1, 2, 3, 4] and all(r.ok for r in records)
    assert all(not job.request.log_to_db and job.request.threads == 1 for job in executor.jobs)
    store = ModelStore(tmp_path / "m")
    names = [v.name for v in store.versions("BTCUSDT-SYNTHETIC")]
    assert len(names) == 4 and len(set(names)) == 4  # same second, same model: numbered, never shared
    assert sorted(r.version_id for r in records) == sorted(names)
    assert store.latest_name("BTCUSDT-SYNTHETIC") == records[0].version_id  # the last one published
    assert sorted(m.version_id for m in logged) == sorted(names)
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["BTCUSDT-SYNTHETIC"]  # the workers' scratch is gone


def test_a_dead_worker_fails_its_run_and_the_rest_complete(tmp_path) -> None:
    s = settings(tmp_path, seeds=3, workers=2, threads=1)  # seeds 42, 43, 44: the seed-43 runs kill their worker
    plan = make_plan(s, None)
    records = run_plan(s, plan, executor=ProcessExecutor(2, work=workers.fake_or_kill))
    assert [r.index for r in records] == [p.index for p in plan]
    failed = [r for r in records if not r.ok]
    assert {r.seed for r in failed} == {workers.KILL_SEED} and len(failed) == 2
    assert all("worker process" in r.error and "died" in r.error for r in failed)
    assert all(r.ok for r in records if r.seed != workers.KILL_SEED)
    assert not any(p.name.startswith(".workers-") for p in (tmp_path / "m").iterdir())


def test_no_worker_process_is_left_behind(tmp_path) -> None:
    s = settings(tmp_path, workers=2, threads=1)
    run_plan(s, make_plan(s, None), executor=ProcessExecutor(2, work=workers.fake_version))
    import multiprocessing

    assert multiprocessing.active_children() == []
