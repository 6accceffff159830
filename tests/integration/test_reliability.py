"""Faults during training lose nothing and explain themselves: interrupts, crashes mid-epoch and
mid-export, two runs at once, a read-only or full models directory, a CUDA out-of-memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atb.errors import AtbError, ModelError
from atb.training import pipeline
from atb.training.pipeline import TrainRequest, train_model

pytestmark = pytest.mark.slow


def request(models: Path, **kw) -> TrainRequest:
    base = dict(symbol="BTCUSDT", architecture="tcn", variant="lightweight", days=8, epochs=2,
                data_source="synthetic", models_dir=models, log_to_db=True)
    return TrainRequest(**{**base, **kw})


def entries(models: Path) -> list[str]:
    parent = models / "BTCUSDT-SYNTHETIC/price"
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def runs(data_dir: Path) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "atb.cli.main", "runs", "list", "--json"], capture_output=True,
                         text=True, env={**os.environ, "ATB_DATA_DIR": str(data_dir)}, timeout=60)
    return json.loads(out.stdout)


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("ATB_DATA_DIR", str(d))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("ATB_DB", raising=False)
    return d


@pytest.fixture
def good_version(tmp_path, data_dir) -> tuple[Path, str]:
    models = tmp_path / "models"
    outcome = train_model(request(models))
    return models, outcome.version_dir.name


def start_training(models: Path, data_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "atb.cli.main", "train", "model", "BTCUSDT", "--model-type", "cnn_lstm",
         "--days", "200", "--epochs", "500", "--patience", "500", "--data-source", "synthetic",
         "--models-dir", str(models)],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "ATB_DATA_DIR": str(data_dir), "COLUMNS": "100"},
    )


def wait_for_training(proc: subprocess.Popen, timeout: float = 120) -> None:
    """Block until the epoch loop runs (the progress bar's first line)."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen += line
        if "Training on" in line:
            time.sleep(1.0)  # inside the first epochs now
            return
        if proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"training never started: {seen}")


@pytest.mark.parametrize(("sig", "code", "message"), [(signal.SIGINT, 130, "interrupted (Ctrl-C)"),
                                                      (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_interrupt_leaves_no_version_and_logs_interrupted(good_version, data_dir, sig, code, message):
    models, good = good_version
    proc = start_training(models, data_dir)
    wait_for_training(proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] == f"error: {message}", err
    assert entries(models) == [good, "latest"], err  # no half-written version, no staging folder
    assert os.readlink(models / "BTCUSDT-SYNTHETIC/price/latest") == good
    newest = runs(data_dir)[0]
    assert (newest["status"], newest["error"]) == ("interrupted", message), (newest, err)


def test_a_second_ctrl_c_exits_at_once(good_version, data_dir):
    models, good = good_version
    proc = start_training(models, data_dir)
    wait_for_training(proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.monotonic() - t0 < 10
    # whatever the second signal cut short, the next run removes it and latest is intact
    train_model(request(models))
    assert not [e for e in entries(models) if e.startswith(".")]


def test_crash_mid_export_publishes_nothing(good_version, data_dir, monkeypatch):
    models, good = good_version

    def broken_export(*args, **kwargs):
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr("atb.models.export.export_onnx", broken_export)
    with pytest.raises(RuntimeError, match="exporter crashed"):
        train_model(request(models))
    assert entries(models) == [good, "latest"]
    assert os.readlink(models / "BTCUSDT-SYNTHETIC/price/latest") == good
    newest = runs(data_dir)[0]
    assert newest["status"] == "failed" and "exporter crashed" in newest["error"]


def test_crash_mid_epoch_publishes_nothing(good_version, data_dir):
    models, good = good_version

    class CrashingReporter(pipeline.SilentReporter):
        def epoch(self, stats) -> None:
            raise MemoryError("killed mid-epoch")

    with pytest.raises(MemoryError):
        train_model(request(models), CrashingReporter())
    assert entries(models) == [good, "latest"]
    assert runs(data_dir)[0]["status"] == "failed"


def test_failed_parity_check_fails_the_run(good_version, data_dir, monkeypatch):
    models, good = good_version
    from atb.models import export

    monkeypatch.setattr(export, "PARITY_TOLERANCE", -1.0)  # nothing can pass
    with pytest.raises(ModelError, match="ONNX parity check failed"):
        train_model(request(models))
    assert entries(models) == [good, "latest"]


def test_two_runs_at_once_give_two_complete_versions(tmp_path, data_dir):
    models = tmp_path / "models"
    cmd = [sys.executable, "-m", "atb.cli.main", "train", "model", "BTCUSDT", "--model-type", "tcn", "--variant",
           "lightweight", "--days", "8", "--epochs", "2", "--data-source", "synthetic", "--models-dir", str(models)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    versions = [e for e in entries(models) if e != "latest"]
    assert len(versions) == 2, versions
    for v in versions:
        meta = json.loads((models / "BTCUSDT-SYNTHETIC/price" / v / "metadata.json").read_text())
        assert meta["version_id"] == v and (models / "BTCUSDT-SYNTHETIC/price" / v / "model.onnx").is_file()
    assert os.readlink(models / "BTCUSDT-SYNTHETIC/price/latest") in versions
    assert sum(r["status"] == "completed" for r in runs(data_dir)) == 2


def mount_tmpfs(path: Path, options: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")


@pytest.mark.parametrize(("options", "problem"), [("size=64k", "No space left on device"),
                                                  ("ro,size=64k", "Read-only file system")])
def test_full_or_read_only_models_dir_is_one_clear_error(tmp_path, data_dir, options, problem):
    models = tmp_path / "small"
    mount_tmpfs(models, options)
    try:
        if "ro" not in options.split(","):
            (models / "BTCUSDT-SYNTHETIC/price").mkdir(parents=True)
        result = subprocess.run(
            [sys.executable, "-m", "atb.cli.main", "train", "model", "BTCUSDT", "--model-type", "cnn_lstm",
             "--variant", "deep", "--days", "8", "--epochs", "1", "--data-source", "synthetic",
             "--models-dir", str(models)], capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and problem in last and str(models) in last, result.stderr
        assert "Traceback" not in result.stderr
        assert not [e for e in entries(models)]  # nothing half-written stays behind
    finally:
        subprocess.run(["umount", str(models)], check=False)


def test_cuda_out_of_memory_suggests_smaller_settings(tmp_path, data_dir, monkeypatch):
    import torch

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("atb.training.trainer.fit", oom)
    with pytest.raises(AtbError) as info:
        train_model(request(tmp_path / "models"))
    message = str(info.value)
    assert "--model-variant lightweight" in message and "--batch-size" in message and "--sequence-length" in message


def run_atb(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "atb.cli.main", *args], capture_output=True, text=True,
                          timeout=180, env={**os.environ, "ATB_DATA_DIR": str(data_dir)})


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith(("error:", "Traceback"))]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def write_candles(path: Path, bars: int, gap_every: int | None = None) -> Path:
    from atb.data.synthetic import synthetic_candles

    c = synthetic_candles(bars, symbol="XUSDT")
    if gap_every:
        c = c[(c.index % gap_every) < gap_every - 10]  # ten candles missing in every stretch
    c.assign(open_time=c.open_time.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    return path


def test_window_longer_than_the_file_says_how_many_candles_are_needed(tmp_path, data_dir):
    csv = write_candles(tmp_path / "short.csv", 500)
    result = run_atb("train", "model", "XUSDT", "--data-file", str(csv), "--sequence-length", "1000", "--days", "5",
                     "--no-db", "--models-dir", str(tmp_path / "m"), data_dir=data_dir)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "short.csv" in line and "candles needed" in line and "only 500 exist" in line


def test_too_few_candles_after_gaps_names_the_minimum(tmp_path, data_dir):
    csv = write_candles(tmp_path / "gappy.csv", 3000, gap_every=50)
    result = run_atb("train", "model", "XUSDT", "--data-file", str(csv), "--days", "60", "--no-db",
                     "--models-dir", str(tmp_path / "m"), data_dir=data_dir)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "too few usable windows" in line and "at least 54 are needed" in line
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").rglob("metadata.json"))


def test_damaged_model_versions_are_one_line_errors(good_version, data_dir):
    models, good = good_version
    version = models / "BTCUSDT-SYNTHETIC/price" / good
    metadata = version / "metadata.json"
    original = metadata.read_text()

    metadata.write_text(original[: len(original) // 2])  # truncated
    for args in (["models", "show", "BTCUSDT-SYNTHETIC"],
                 ["predict", "BTCUSDT-SYNTHETIC", "--data-source", "synthetic"]):
        result = run_atb(*args, "--models-dir", str(models), data_dir=data_dir)
        assert result.returncode == 1
        line = one_error_line(result)
        assert str(metadata) in line and "not valid JSON" in line
    listed = run_atb("models", "list", "--models-dir", str(models), "--json", data_dir=data_dir)
    assert listed.returncode == 0 and "not valid JSON" in json.loads(listed.stdout)[0]["error"]

    metadata.write_text(json.dumps({**json.loads(original), "evaluation_results": "edited by hand"}))
    line = one_error_line(run_atb("models", "show", "BTCUSDT-SYNTHETIC", "--models-dir", str(models),
                                  data_dir=data_dir))
    assert "'evaluation_results' section is missing or damaged" in line

    metadata.write_text(original)
    (version / "model.onnx").unlink()
    result = run_atb("predict", "BTCUSDT-SYNTHETIC", "--data-source", "synthetic", "--models-dir", str(models),
                     data_dir=data_dir)
    assert result.returncode == 1 and "model.onnx is missing" in one_error_line(result)
