"""The challenger's shadow forecasts wait in a batch and are scored together: one ONNX Runtime call per challenger
for many requests, each row as the one-at-a-time path would write it; a failing job costs only itself."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from atb.serving.service import PredictionService, ShadowJob
from atb.serving.shadow import ShadowBatcher


class FakeModel:
    """An OnnxForecaster's shadow-path surface: live_window, predict (counted), prediction."""

    version, min_candles, timeframe = "2026-01-01_000000_tcn_default", 3, "1h"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def live_window(self, candles, features):
        if candles.bad:
            raise ValueError("no complete window")
        return np.full((4, 2), candles.value, np.float32)

    def predict(self, windows: np.ndarray) -> np.ndarray:
        self.calls.append(len(windows))
        return windows[:, 0, 0].astype(np.float64) / 100

    def prediction(self, candles, log_return: float):
        return ("prediction", candles.value, log_return)


class FakeCandles:
    def __init__(self, value: float, n: int = 5, bad: bool = False) -> None:
        self.value, self.n, self.bad = value, n, bad

    def __len__(self) -> int:
        return self.n


class Counter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def labels(self, symbol, version, outcome):
        counter = self

        class Inc:
            def inc(self) -> None:
                counter.counts[outcome] = counter.counts.get(outcome, 0) + 1

        return Inc()


class Metrics:
    def __init__(self) -> None:
        self.shadow = Counter()


class Log:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def put(self, row: dict) -> None:
        self.rows.append(row)


@pytest.fixture
def service(monkeypatch) -> PredictionService:
    monkeypatch.setattr("atb.serving.service.row", lambda symbol, model, role, prediction, created, elapsed, **kw:
                        {"prediction": prediction, "created": created, "role": role, **kw})
    return PredictionService(models=None, metrics=Metrics(), prediction_log=Log())


def test_pending_jobs_are_scored_in_one_call_per_challenger(service: PredictionService) -> None:
    model, other = FakeModel(), FakeModel()
    jobs = [ShadowJob("BTCUSDT", model, FakeCandles(i), None, created=1000.0 + i) for i in range(10)]
    jobs.insert(3, ShadowJob("BTCUSDT", other, FakeCandles(7), None, created=5.0))
    batcher = ShadowBatcher(service.shadow_batch, interval_s=60)
    for job in jobs:
        batcher.add(job)
    assert service.log.rows == []  # nothing on the response path
    batcher.flush()
    assert model.calls == [10] and other.calls == [1]
    rows = service.log.rows
    assert [r["created"] for r in rows] == [1000.0 + i for i in range(10)] + [5.0]  # grouped by challenger
    assert {(r["role"], r["answered"], r["source"]) for r in rows} == {("challenger", False, "request")}
    assert [r["prediction"][2] for r in rows[:10]] == pytest.approx([i / 100 for i in range(10)])
    assert service.metrics.shadow.counts == {"ok": 11}


def test_a_failing_job_costs_only_itself(service: PredictionService) -> None:
    model = FakeModel()
    jobs = [ShadowJob("BTCUSDT", model, FakeCandles(1), None, 1.0),
            ShadowJob("BTCUSDT", model, FakeCandles(2, bad=True), None, 2.0),
            ShadowJob("BTCUSDT", model, FakeCandles(3, n=2), None, 3.0)]  # fewer than min_candles
    done = service.shadow_batch(jobs)
    assert done == [("prediction", 1, 0.01)] and model.calls == [1]
    assert service.metrics.shadow.counts == {"ok": 1, "error": 1, "skipped": 1}


def test_a_full_batch_is_scored_at_once_and_stop_scores_the_rest(service: PredictionService) -> None:
    model = FakeModel()
    batcher = ShadowBatcher(service.shadow_batch, interval_s=60, max_pending=4)

    async def run() -> None:
        batcher.start()
        for i in range(6):
            batcher.add(ShadowJob("BTCUSDT", model, FakeCandles(i), None, float(i)))
        assert model.calls == [4]  # the fourth job filled the batch
        await batcher.stop()

    asyncio.run(run())
    assert model.calls == [4, 2] and len(service.log.rows) == 6


def test_the_timer_scores_what_waits(service: PredictionService) -> None:
    model = FakeModel()
    batcher = ShadowBatcher(service.shadow_batch, interval_s=0.01)

    async def run() -> None:
        batcher.start()
        batcher.add(ShadowJob("BTCUSDT", model, FakeCandles(1), None, 1.0))
        for _ in range(200):
            if model.calls:
                break
            await asyncio.sleep(0.01)
        await batcher.stop()

    asyncio.run(run())
    assert model.calls == [1]
