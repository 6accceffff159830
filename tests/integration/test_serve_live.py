"""`atb serve` as a real process on 127.0.0.1: the forecast equals `atb predict`'s on the same candles (the
committed fixture version on the synthetic market; with a model trained on ../shared/data too, marked slow), a
load with `atb ab promote` in the middle loses no request and the promoted version answers after it, Ctrl-C
stops it cleanly with the log written, and the refusals are one line before anything starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest

from fakes.serving import CHALLENGER, CHAMPION, body, candles, registry

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env(data_dir: Path, **extra: str) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), "ATB_DATA_DIR": str(data_dir), "NO_COLOR": "1",
            "COLUMNS": "200", **extra}


def atb(*args: str, environ: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "atb.cli.main", *args], env=environ, capture_output=True, text=True,
                          timeout=300)


@contextmanager
def serving(root: Path, environ: dict, *args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "atb.cli.main", "serve", "--port", str(port), "--models-dir",
                             str(root), *args], env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            pytest.fail("atb serve did not become ready within 60 s")
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_served_forecast_equals_atb_predict(tmp_path: Path) -> None:
    root = registry(tmp_path / "models", challenger=False)
    environ = env(tmp_path / "data", ATB_DB="off")
    predicted = atb("predict", "BTCUSDT-SYNTHETIC", "--data-source", "synthetic", "--models-dir", str(root), "--json",
                    environ=environ)
    assert predicted.returncode == 0, predicted.stderr
    expected = json.loads(predicted.stdout)
    with serving(root, environ) as (url, _):
        answer = httpx.post(url + "/v1/predict/BTCUSDT-SYNTHETIC", json=body(candles(400)), timeout=10).json()
    assert answer["predicted_close"] == expected["predicted_close"]
    assert answer["last_close"] == expected["last_close"]
    assert pd.Timestamp(answer["target_time"]) == pd.Timestamp(expected["target_time"])


def test_promote_during_a_load_loses_no_request(tmp_path: Path) -> None:
    root = registry(tmp_path / "models")
    environ = env(tmp_path / "data", ATB_DB="off")
    payload = json.dumps(body(candles(300))).encode()
    answers: list[tuple[float, int, str | None]] = []
    failures: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            while not stop.is_set():
                try:
                    response = http.post(url + "/v1/predict/BTCUSDT-SYNTHETIC", content=payload,
                                         headers={"Content-Type": "application/json"})
                    version = response.json().get("version") if response.status_code == 200 else None
                    answers.append((time.monotonic(), response.status_code, version))
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    with serving(root, environ, "--reload-interval", "0.2") as (url, _):
        threads = [threading.Thread(target=client) for _ in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        promoting = time.monotonic()
        promoted = atb("ab", "promote", "BTCUSDT-SYNTHETIC", CHALLENGER, "--models-dir", str(root), environ=environ)
        promoted_at = time.monotonic()
        time.sleep(2.0)
        stop.set()
        for thread in threads:
            thread.join(20)
    assert promoted.returncode == 0 and f"replaces {CHAMPION}" in " ".join(promoted.stdout.split())
    assert not failures
    assert answers and all(status == 200 for _, status, _ in answers)
    before = [v for t, _, v in answers if t < promoting]
    after = [v for t, _, v in answers if t > promoted_at + 1.0]  # the watcher looks every 0.2 s
    assert before and set(before) == {CHAMPION}
    assert after and set(after) == {CHALLENGER}


def test_ctrl_c_stops_cleanly_with_the_log_written(tmp_path: Path) -> None:
    root = registry(tmp_path / "models", challenger=False)
    environ = env(tmp_path / "data")
    with serving(root, environ) as (url, proc):
        for _ in range(3):
            assert httpx.post(url + "/v1/predict/BTCUSDT-SYNTHETIC", json=body(candles(100)), timeout=10).is_success
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "atb serve: stopped" in out and "error" not in err.lower()
    rows = subprocess.run([sys.executable, "-c", "from atb.tracking.served import read_rows; "
                           "print(len(read_rows('BTCUSDT-SYNTHETIC')))"], env=environ, capture_output=True, text=True)
    assert rows.stdout.strip() == "3", rows.stderr


def test_refusals_are_one_line_before_anything_starts(tmp_path: Path, atb_cli, monkeypatch) -> None:
    root = registry(tmp_path / "models")
    monkeypatch.delenv("ATB_API_KEY", raising=False)
    args = ["serve", "--models-dir", str(root)]
    exposed = atb_cli([*args, "--host", "0.0.0.0"])
    assert exposed.code == 2 and "refusing to listen on 0.0.0.0 without an API key: set ATB_API_KEY" in exposed.err
    both = atb_cli([*args, "--shadow", CHALLENGER, "--split", f"0.5:{CHALLENGER}"])
    assert both.code == 2 and "give one of them" in both.err
    unknown = atb_cli([*args, "--shadow", "2020-01-01_000000_tcn_default"])
    assert unknown.code == 2 and "is not a version of BTCUSDT-SYNTHETIC" in unknown.err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = atb_cli([*args, "--port", str(taken.getsockname()[1])])
    assert busy.code == 2 and "cannot listen on 127.0.0.1:" in busy.err
    empty = atb_cli(["serve", "--models-dir", str(tmp_path / "none")])
    assert empty.code == 2 and "no models in" in empty.err
    for result in (exposed, both, unknown, busy, empty):
        assert result.err.count("\n") == 1 and "Traceback" not in result.err


@pytest.mark.slow
def test_a_model_trained_on_the_shared_data_serves_what_atb_predict_says(tmp_path: Path, shared_data: Path) -> None:
    """The issue's 'done when': train on ../shared/data, `atb serve`, POST the file's candles, get `atb predict`'s."""
    data_file = shared_data / "BTCUSDT_1h_2017-08_2022-12.csv"
    root = tmp_path / "models"
    environ = env(tmp_path / "data", ATB_DB="off", ATB_THREADS="1")
    trained = atb("train", "model", "BTCUSDT", "-m", "cnn_lstm", "--model-variant", "lightweight", "--days", "10",
                  "--epochs", "1", "--data-file", str(data_file), "--models-dir", str(root), "--no-db", environ=environ)
    assert trained.returncode == 0, trained.stderr
    predicted = atb("predict", "BTCUSDT", "--data-file", str(data_file), "--models-dir", str(root), "--json",
                    environ=environ)
    assert predicted.returncode == 0, predicted.stderr
    expected = json.loads(predicted.stdout)
    frame = pd.read_csv(data_file).tail(400)
    with serving(root, environ) as (url, _):
        answer = httpx.post(url + "/v1/predict/BTCUSDT", json={"candles": frame.to_dict(orient="records")},
                            timeout=10).json()
    assert answer["predicted_close"] == expected["predicted_close"]
    assert answer["version"] == expected["version"] and answer["role"] == "champion"
