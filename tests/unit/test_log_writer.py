"""The prediction log writer: rows go in batches from a background thread; putting a row never waits for the
database; a database that fails costs one warning per outage and the rows it could not take (counted)."""

from __future__ import annotations

import threading
import time

import pytest

from atb.serving import log_writer
from atb.serving.log_writer import PredictionLog
from atb.serving.metrics import Metrics


def test_rows_are_written_in_batches() -> None:
    batches: list[list[dict]] = []
    log = PredictionLog(Metrics(), write=batches.append, batch_rows=50, flush_s=0.05)
    log.start()
    for i in range(120):
        log.put({"i": i})
    assert log.flush(10)
    log.stop()
    assert [row["i"] for batch in batches for row in batch] == list(range(120))
    assert max(len(b) for b in batches) <= 50 and len(batches) < 120
    assert log.written == 120 and log.dropped == 0


def test_putting_never_waits_for_a_slow_database() -> None:
    release = threading.Event()

    def stuck(_rows: list[dict]) -> None:
        release.wait(10)

    metrics = Metrics()
    log = PredictionLog(metrics, write=stuck, batch_rows=5, flush_s=0.01, buffer_rows=20)
    log.start()
    started = time.perf_counter()
    for i in range(1000):
        log.put({"i": i})
    assert time.perf_counter() - started < 0.5  # 1,000 rows while the writer is stuck
    assert log.dropped >= 1000 - 20 - 5  # beyond the buffer (and the batch in hand): dropped and counted
    release.set()
    assert log.flush(10)
    log.stop()
    assert log.written + log.dropped == 1000
    assert metrics.log_rows.labels("dropped")._value.get() == log.dropped


def test_an_outage_is_one_warning_and_writing_resumes(monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(log_writer, "RETRY_S", (0.01, 0.02))
    down = threading.Event()
    down.set()
    written: list[dict] = []

    def database(rows: list[dict]) -> None:
        if down.is_set():
            raise OSError("could not connect to server: Connection refused")
        written.extend(rows)

    log = PredictionLog(Metrics(), write=database, batch_rows=1, flush_s=0.01)
    log.start()
    for i in range(5):
        log.put({"i": i})
        assert log.flush(10)
    down.clear()
    log.put({"i": 5})
    assert log.flush(10)
    log.stop()
    assert [r["i"] for r in written] == [5] and log.dropped == 5
    messages = [r.getMessage() for r in caplog.records if r.name == "atb.serving.log_writer"]
    assert len(messages) == 2
    assert "cannot write to the run-log database (could not connect" in messages[0]
    assert "writing again" in messages[1] and "5 rows dropped" in messages[1]


def test_disabled_log_takes_nothing() -> None:
    log = PredictionLog(Metrics(), enabled=False, write=lambda rows: pytest.fail("written"))
    log.start()
    log.put({"i": 1})
    assert log.flush(1)
    log.stop()
