"""Benchmark runs as Ray tasks on a real local cluster: `ray start --head --num-cpus 2` and
ATB_TEST_RAY_ADDRESS=127.0.0.1:6379 (CI does both); skipped with the reason otherwise."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from atb.benchmark.executors import RayExecutor
from atb.benchmark.plan import make_plan, resolve_last_candle
from atb.benchmark.runner import run_plan
from atb.benchmark.settings import make_settings
from atb.registry.store import ModelStore, read_metadata

pytestmark = pytest.mark.slow

FOLDER = "BTCUSDT-SYNTHETIC"


def _cluster() -> str:
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.skip('ray is not installed (pip install -e ".[distributed]")')
    address = os.environ.get("ATB_TEST_RAY_ADDRESS")
    if not address:
        pytest.skip("ATB_TEST_RAY_ADDRESS is not set (ray start --head --num-cpus 2; export "
                    "ATB_TEST_RAY_ADDRESS=127.0.0.1:6379)")
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except (OSError, ValueError) as exc:
        pytest.skip(f"no Ray cluster answers at {address}: {exc}")
    return address


@pytest.fixture(scope="module")
def cluster():
    address = _cluster()
    yield address
    import ray

    if ray.is_initialized():
        ray.shutdown()


def tiny(tmp_path: Path, name: str, **kw):
    return make_settings(**{"quick": True, "full": False, "data_source": "synthetic", "days": 7, "epochs": 2,
                            "models": "cnn_lstm:lightweight", "threads": 1, "log_to_db": False,
                            "models_dir": tmp_path / name, "output_dir": tmp_path / f"out-{name}", **kw})


def test_ray_runs_match_the_serial_runs(tmp_path, cluster, monkeypatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    serial = tiny(tmp_path, "serial")
    on_ray = tiny(tmp_path, "ray", ray=cluster, cpus_per_run=1)
    one = run_plan(serial, make_plan(serial, resolve_last_candle(serial)))
    two = run_plan(on_ray, make_plan(on_ray, resolve_last_candle(on_ray)))
    assert all(r.ok for r in one + two), [r.error for r in two]
    for a, b in zip(one, two, strict=True):
        assert b.metrics["test_rmse"] == pytest.approx(a.metrics["test_rmse"], rel=1e-6)
        assert b.metrics["directional_accuracy"] == pytest.approx(a.metrics["directional_accuracy"], rel=1e-6)
    store = ModelStore(tmp_path / "ray")  # the driver published the files the task sent back
    assert store.latest_name(FOLDER) == two[-1].version_id
    assert read_metadata(Path(two[-1].version_dir)).version_id == two[-1].version_id
    assert (Path(two[-1].version_dir) / "model.onnx").is_file()


def test_a_lost_ray_worker_is_retried(tmp_path, cluster) -> None:
    import ray

    from fakes import workers

    ray.cloudpickle.register_pickle_by_value(workers)  # the cluster's workers do not have tests/ on their path
    settings = tiny(tmp_path, "retry", ray=cluster, seeds=2)
    records = run_plan(settings, make_plan(settings, None), executor=RayExecutor(cluster, task=workers.ray_kill_once))
    assert [r.status for r in records] == ["completed", "completed"], [r.error for r in records]
    assert len(ModelStore(tmp_path / "retry").versions(FOLDER)) == 2
