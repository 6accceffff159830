"""`atb tune run --ray` against a real local Ray cluster (ATB_TEST_RAY_ADDRESS, e.g. 127.0.0.1:6379 where CI runs
`ray start --head --num-cpus 2`): the trials run as Ray Tune trials, land in the study's own storage, the driver
publishes the tuned version; a Ray worker killed mid-trial is retried and the search completes."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from atb.tuning import study as studies
from atb.tuning.local import SearchPlan
from atb.tuning.runner import tune
from atb.tuning.settings import TuneSettings
from atb.tuning.storage import resolve

ADDRESS = os.environ.get("ATB_TEST_RAY_ADDRESS", "")


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except (OSError, ValueError):
        return False
    return True


pytest.importorskip("ray", reason="ray is not installed (the optional `distributed` extra)")
pytestmark = pytest.mark.skipif(not ADDRESS or not _reachable(ADDRESS),
                                reason="set ATB_TEST_RAY_ADDRESS to a running Ray head (ray start --head)"
                                if not ADDRESS else f"no Ray head answers at {ADDRESS}")


@pytest.fixture(scope="module", autouse=True)
def _disconnect():
    yield
    import ray

    ray.shutdown()


def _settings(epochs: int = 3) -> TuneSettings:
    return TuneSettings(symbol="BTCUSDT", architecture="tcn", days=8, epochs=epochs, patience=epochs,
                        data_source="synthetic", threads=1)


def test_a_ray_study_publishes_a_tuned_version(data_dir, tmp_path):
    spec = resolve(None, "ray1")
    outcome = tune(SearchPlan("ray1", spec, _settings(), trials=3), models_dir=tmp_path / "models",
                   log_to_db=False, ray_address=ADDRESS)
    assert outcome.backend == "ray" and outcome.finalized is not None
    study = studies.open_study("ray1", spec, create=False)
    assert studies.finished(study) == 3 and all(t.user_attrs.get("backend") == "ray" for t in study.trials)
    doc = json.loads((Path(outcome.finalized.version_dir) / "metadata.json").read_text())
    assert doc["tuning"]["n_trials"] == 3 and doc["tuning"]["best_params"] == study.best_params


def test_a_lost_ray_worker_is_retried(data_dir, tmp_path):
    spec = resolve(None, "ray2")
    killed: list[int] = []

    def kill_one_trial_worker() -> None:
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            time.sleep(0.3)
            for pid in _trial_workers():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return

    hunter = threading.Thread(target=kill_one_trial_worker)
    hunter.start()
    tune(SearchPlan("ray2", spec, _settings(epochs=15), trials=2), log_to_db=False, ray_address=ADDRESS,
         final=False)
    hunter.join()
    assert killed, "no Ray trial worker was seen"
    study = studies.open_study("ray2", spec, create=False)
    assert studies.finished(study) == 2 and not [t for t in study.trials if t.state.name == "FAIL"]


def _trial_workers() -> list[int]:
    """Processes of Ray Tune function trainables (their title is ray::ImplicitFunc...)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::ImplicitFunc"):
            found.append(int(entry.name))
    return found


def test_ctrl_c_on_a_ray_search_keeps_the_finished_trials_and_exits_130(data_dir, tmp_path):
    import subprocess
    import sys

    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "ATB_DATA_DIR": str(data_dir), "PYTHONPATH": str(src)}
    proc = subprocess.Popen([sys.executable, "-m", "atb.cli.main", "tune", "run", "BTCUSDT", "--data-source",
                             "synthetic", "--days", "8", "--epochs", "3", "--trials", "30", "--study", "ray3",
                             "--ray", ADDRESS, "--no-final"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    spec = resolve(None, "ray3")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if spec.path.exists() and studies.finished(studies.open_study("ray3", spec, create=False)) >= 2:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "error: interrupted (Ctrl-C)" and "Traceback" not in err
    assert 2 <= studies.finished(studies.open_study("ray3", spec, create=False)) < 30
