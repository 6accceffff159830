"""The prediction server in-process (FastAPI's test client over the committed fixture version; no torch): its
endpoints, the forecast `atb predict` gives, every bad request a 4xx with one line, the API key, shadow and split
routing, the prediction log (and a database that is down), and hot reload."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from atb.inference.predict import forecast_next
from atb.serving.app import create_app
from atb.serving.config import Challenger, ServeConfig
from atb.tracking.served import read_rows
from fakes.serving import CHALLENGER, CHAMPION, add_version, body, candles, registry

SYMBOL = "BTCUSDT-SYNTHETIC"
URL = f"/v1/predict/{SYMBOL}"


class Rows(list):
    """A prediction log writer that keeps the rows (the real one writes them to the run-log database)."""

    def __call__(self, batch: list[dict]) -> None:
        self.extend(batch)


def serve(root: Path, **config) -> tuple[TestClient, Rows]:
    rows = Rows()
    app = create_app(ServeConfig(models_dir=root, **{"reload_interval_s": 0.05, **config}), write=rows)
    return TestClient(app), rows


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return registry(tmp_path / "models")


@pytest.fixture
def client(root: Path) -> Iterator[TestClient]:
    test_client, _ = serve(root)
    with test_client:
        yield test_client


def one_line(response) -> str:
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail
    return detail


def test_health_models_and_a_forecast_equal_to_atb_predict(client: TestClient, root: Path) -> None:
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["ready"] is True
    info = client.get("/models").json()["models"]
    champion = next(m for m in info if m["role"] == "champion")
    assert champion["version"] == CHAMPION and champion["min_candles"] == 60 + 24
    assert champion["recommended_candles"] == 250 + 24 and champion["metrics"]["test_rmse"] > 0
    frame = candles(400)
    answer = client.post(URL, json=body(frame))
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert set(got) == {"symbol", "version", "role", "last_close", "target_time", "predicted_return",
                        "predicted_close"}
    frame.attrs["source"] = "synthetic"
    expected = forecast_next(root / SYMBOL / "price" / CHAMPION, frame)
    assert got["version"] == CHAMPION and got["role"] == "champion" and got["symbol"] == SYMBOL
    assert got["predicted_close"] == expected.predicted_close  # the same code on the same candles: the same bits
    assert got["last_close"] == expected.last_close
    assert pd.Timestamp(got["target_time"]) == expected.target_time
    assert (root / SYMBOL / "price" / "champion").is_symlink()  # created from latest at start-up


def test_every_bad_request_is_a_4xx_with_one_line(client: TestClient) -> None:
    assert client.post("/v1/predict/DOGEUSDT", json=body(candles(100))).status_code == 404
    assert "this server serves: BTCUSDT-SYNTHETIC" in one_line(client.post("/v1/predict/nope", json={}))
    too_big = client.post(URL, content=b" " * 1_000_001, headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413 and "larger than" in one_line(too_big)
    short = client.post(URL, json=body(candles(50)))
    assert short.status_code == 422 and one_line(short).startswith("too few candles: 50 given")
    for raw in (b"", b"null", b'{"candles": "x"}', b'{"candles": [{"open_time": 1}]}'):
        answer = client.post(URL, content=raw, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, raw
        one_line(answer)
    gap = body(candles(200))
    del gap["candles"][150]
    assert "not the 1h candle after" in one_line(client.post(URL, json=gap))
    assert client.get("/v1/predict/" + SYMBOL).status_code == 405
    assert one_line(client.get("/nowhere")) == "Not Found"


def test_503_while_no_model_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "models" / "ETHUSDT" / "price").mkdir(parents=True)
    test_client, _ = serve(tmp_path / "models", symbols=("ETHUSDT",))
    with test_client:
        assert test_client.get("/health").status_code == 503
        answer = test_client.post("/v1/predict/ETHUSDT", json=body(candles(100)))
        assert answer.status_code == 503 and "no model loaded for ETHUSDT: no trained model" in one_line(answer)
        add_version(tmp_path / "models", "ETHUSDT", CHAMPION)  # trained meanwhile: picked up, no restart
        deadline = time.monotonic() + 10
        while test_client.get("/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert test_client.post("/v1/predict/ETHUSDT", json=body(candles(100))).status_code == 200


def test_api_key_guards_everything_but_health(root: Path) -> None:
    test_client, _ = serve(root, api_key="s3cret")
    with test_client:
        assert test_client.get("/health").status_code == 200
        for method, path in (("get", "/models"), ("get", "/metrics"), ("post", URL)):
            assert getattr(test_client, method)(path).status_code == 401
            wrong = getattr(test_client, method)(path, headers={"X-API-Key": "nope"})
            assert wrong.status_code == 401 and one_line(wrong) == "missing or wrong X-API-Key header"
        ok = test_client.post(URL, json=body(candles(100)), headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200


def test_shadow_scores_the_challenger_off_the_response_path(root: Path) -> None:
    test_client, rows = serve(root, challenger=Challenger(CHALLENGER, "shadow"))
    with test_client:
        frame = candles(300)
        for end in range(200, 300, 10):
            answer = test_client.post(URL, json=body(frame.iloc[:end]))
            assert answer.status_code == 200 and answer.json()["role"] == "champion"
        server = test_client.app.state.server
        deadline = time.monotonic() + 10  # the shadow batch is scored within ShadowBatcher's interval
        while server.log.flush(10) and sum(r["role"] == "challenger" for r in rows) < 10 \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        metrics = test_client.get("/metrics").text
    by_role = {role: [r for r in rows if r["role"] == role] for role in ("champion", "challenger")}
    assert len(by_role["champion"]) == len(by_role["challenger"]) == 10
    assert all(r["answered"] for r in by_role["champion"]) and not any(r["answered"] for r in by_role["challenger"])
    assert {r["version_id"] for r in by_role["challenger"]} == {CHALLENGER}
    for champ, chall in zip(by_role["champion"], by_role["challenger"], strict=True):
        assert champ["target_time"] == chall["target_time"] and champ["created_at"] == chall["created_at"]
        assert chall["predicted_return"] == pytest.approx(1.5 * champ["predicted_return"], rel=1e-6)
    assert f'atb_shadow_forecasts_total{{outcome="ok",symbol="{SYMBOL}",version="{CHALLENGER}"}} 10.0' in metrics


def test_split_routes_a_stable_share_of_clients(root: Path) -> None:
    test_client, rows = serve(root, challenger=Challenger(CHALLENGER, "split", 0.5))
    payload = body(candles(120))
    with test_client:
        seen = {}
        for i in range(40):
            client_id = f"bot-{i % 20}"
            answer = test_client.post(URL, json=payload, headers={"X-Client-Id": client_id}).json()
            assert seen.setdefault(client_id, answer["version"]) == answer["version"]  # stable per client
            assert answer["role"] == ("challenger" if answer["version"] == CHALLENGER else "champion")
        assert 3 <= sum(v == CHALLENGER for v in seen.values()) <= 17
        assert test_client.post(URL, json=payload).json()["role"] == "champion"  # no client id: the champion
        assert test_client.app.state.server.log.flush(10)
    assert len(rows) == 41 and all(r["answered"] for r in rows)  # split: only the answer is scored


def test_hot_reload_follows_the_champion_pointer_and_survives_a_broken_version(root: Path) -> None:
    from atb.registry.store import ModelStore

    store = ModelStore(root)
    test_client, _ = serve(root)
    payload = body(candles(120))

    def version_after_change(expected: str) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = test_client.post(URL, json=payload)
            assert answer.status_code == 200  # every request during the swap is answered
            if answer.json()["version"] == expected:
                return expected
            time.sleep(0.02)
        return answer.json()["version"]

    with test_client:
        assert test_client.post(URL, json=payload).json()["version"] == CHAMPION
        store.promote(SYMBOL, CHALLENGER)
        assert version_after_change(CHALLENGER) == CHALLENGER
        broken = add_version(root, SYMBOL, "2026-12-04_000000_broken", latest=False)
        (broken / "model.onnx").write_bytes(b"garbage")
        store.promote(SYMBOL, broken.name)
        time.sleep(0.5)
        assert test_client.post(URL, json=payload).json()["version"] == CHALLENGER  # the old one keeps serving
        assert 'outcome="failed",role="champion"' in test_client.get("/metrics").text
        store.promote(SYMBOL, CHAMPION)
        assert version_after_change(CHAMPION) == CHAMPION


def test_forecasts_are_logged_to_the_run_log_database(root: Path, data_dir: Path) -> None:
    app = create_app(ServeConfig(models_dir=root))
    frame = candles(150)
    with TestClient(app) as test_client:
        answer = test_client.post(URL, json=body(frame)).json()
        assert app.state.server.log.flush(30)
    rows = read_rows(SYMBOL)
    assert len(rows) == 1
    row = rows[0]
    assert row["version_id"] == CHAMPION and row["role"] == "champion" and row["answered"] is True
    assert row["source"] == "request" and row["timeframe"] == "1h" and row["latency_ms"] > 0
    assert pd.Timestamp(row["target_time"]) == pd.Timestamp(answer["target_time"])
    assert pd.Timestamp(row["last_time"]) == frame["open_time"].iloc[-1]
    assert row["predicted_close"] == answer["predicted_close"] and row["last_close"] == answer["last_close"]


def test_a_database_that_is_down_costs_no_request(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    def down(_rows: list[dict]) -> None:
        raise ConnectionError("connection refused")

    app = create_app(ServeConfig(models_dir=root), write=down)
    with TestClient(app) as test_client:
        for _ in range(3):
            assert test_client.post(URL, json=body(candles(100))).status_code == 200
        assert app.state.server.log.flush(30)
        metrics = test_client.get("/metrics").text
    assert 'atb_prediction_log_rows_total{outcome="dropped"} 3.0' in metrics
    warnings = [r.getMessage() for r in caplog.records if "prediction log" in r.getMessage()]
    assert len(warnings) == 1 and "connection refused" in warnings[0]  # said once per outage


def test_the_server_path_never_imports_torch(root: Path) -> None:
    probe = f"""
import sys, json
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from fastapi.testclient import TestClient
from atb.serving.app import create_app
from atb.serving.config import ServeConfig
from fakes.serving import body, candles
with TestClient(create_app(ServeConfig(models_dir=Path({str(root)!r}), log_predictions=False))) as c:
    assert c.post({URL!r}, json=body(candles(100))).status_code == 200
print(json.dumps(sorted(m for m in ("torch", "sqlalchemy") if m in sys.modules)))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
