"""The run log against real databases: SQLite always, PostgreSQL (marker `postgres`) when a server answers
at ATB_TEST_DATABASE_URL or the guide's URL (`.ci/postgres.sh` starts one locally).

Each PostgreSQL test works in a schema of its own (`atb_test_<random>`, reached through `search_path` and
dropped afterwards), so the developer's tables in the same database are never touched; each SQLite test
uses a file in its temporary directory."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atb.cli import db as db_cli
from atb.cli import runs as runs_cli
from atb.errors import AtbError, UsageError
from atb.registry.metadata import VersionMetadata
from atb.tracking import TrackingError, open_run_log, record_benchmark, sync_registry
from atb.tracking import migrate as migrate_module
from atb.tracking.engine import dispose_all, get_engine
from atb.tracking.errors import one_line
from atb.tracking.migrate import ensure_schema, head_revision
from atb.tracking.schema import Base, BenchmarkRun, TrainingEpoch, TrainingRun
from atb.tracking.settings import masked, normalize_url

GUIDE_URL = "postgresql://trading_bot:dev_password_123@localhost:5432/ai_trading_bot"
PASSWORD = "dev_password_123"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


# ------------------------------------------------------------------------------------------ databases


def postgres_base_url() -> URL:
    return normalize_url(os.environ.get("ATB_TEST_DATABASE_URL") or GUIDE_URL)


@functools.cache
def postgres_unavailable() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when a server answers."""
    url = postgres_base_url()
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"no PostgreSQL at {masked(url)} ({one_line(exc)}); run .ci/postgres.sh or set ATB_TEST_DATABASE_URL"
    finally:
        engine.dispose()
    return None


@contextmanager
def postgres_schema() -> Iterator[URL]:
    """A fresh, empty schema of our own in the test server; the URL reaches it through search_path."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    base = postgres_base_url()
    schema = f"atb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"})
    finally:
        dispose_all()  # pooled connections first, or DROP SCHEMA may wait on them
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class Database:
    backend: str  # "sqlite" | "postgresql"
    url: URL  # where the run log writes (DATABASE_URL, or the default SQLite file)


@contextmanager
def use_database(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("ATB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ATB_DB", raising=False)
    monkeypatch.delenv("ATB_DB_TIMEOUT", raising=False)
    if backend == "sqlite":
        monkeypatch.delenv("DATABASE_URL", raising=False)  # the default: <ATB_DATA_DIR>/atb.sqlite
        try:
            yield Database("sqlite", URL.create("sqlite", database=str(tmp_path / "data" / "atb.sqlite")))
        finally:
            dispose_all()
        return
    with postgres_schema() as url:
        monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
        yield Database("postgresql", url)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    with use_database(request.param, tmp_path, monkeypatch) as database:
        yield database


def session() -> Session:
    return Session(get_engine())


# ------------------------------------------------------------------------------ a realistic training run


def make_metadata(version_id: str, *, symbol: str = "BTCUSDT", architecture: str = "attention_lstm",
                  variant: str = "default", test_rmse: float = 412.7) -> dict[str, Any]:
    """metadata.json as DESIGN.md specifies it, with plausible 30-day 1h BTCUSDT numbers."""
    return {
        "symbol": symbol, "model_type": "price", "version_id": version_id, "created_at": "2026-11-26T18:43:12+00:00",
        "training_params": {
            "architecture": architecture, "architecture_variant": variant, "timeframe": "1h", "days": 30,
            "start": "2026-10-27T00:00:00+00:00", "end": "2026-11-26T00:00:00+00:00", "epochs": 20, "epochs_run": 4,
            "batch_size": 32, "sequence_length": 60, "learning_rate": 0.001, "seed": 42, "device": "cpu",
            "features": ["log_return_1", "rsi_14", "macd", "macd_signal", "atr_14", "volume_z"],
            "target": "log_return_1",
        },
        "data": {
            "source": "binance", "rows": 780, "gaps": 1,
            "train": {"start": "2026-10-27T00:00:00+00:00", "end": "2026-11-17T23:00:00+00:00", "n": 504},
            "validation": {"start": "2026-11-18T00:00:00+00:00", "end": "2026-11-22T10:00:00+00:00", "n": 107},
            "test": {"start": "2026-11-22T11:00:00+00:00", "end": "2026-11-26T00:00:00+00:00", "n": 107},
        },
        "evaluation_results": {
            "test_rmse": test_rmse, "test_mae": 301.2, "mape": 0.33, "directional_accuracy": 51.4,
            "directional_accuracy_ci95": [41.9, 60.8], "directional_p_value": 0.77, "naive_test_rmse": 405.1,
            "naive_test_mae": 296.0, "naive_mape": 0.32, "rmse_skill_vs_naive": -0.0188,
            "dm_vs_naive": {"statistic": 0.84, "p_value": 0.40}, "val_loss": 1.2e-05, "train_loss": 1.1e-05,
        },
        "performance": {"training_time_s": 48.2, "inference_ms_p50": 1.9, "inference_ms_p95": 2.6,
                        "batch_throughput_per_s": 5400.0, "parameters": 118273, "peak_rss_mb": 612.4},
        "onnx": {"file": "model.onnx", "opset": 18, "max_abs_diff": 2.4e-07},
        "artifacts": {"weights": "model.safetensors", "onnx": "model.onnx", "scaler": "scaler.json"},
    }


def start_of(metadata: dict[str, Any]) -> dict[str, Any]:
    """What the pipeline hands `RunLog.start` before training."""
    params = {k: v for k, v in metadata["training_params"].items() if k != "epochs_run"}
    return {
        "version_id": metadata["version_id"], "symbol": metadata["symbol"], "timeframe": params["timeframe"],
        "architecture": params["architecture"], "variant": params["architecture_variant"], "params": params,
        "data_source": metadata["data"]["source"], "data_start": params["start"], "data_end": params["end"],
    }


def log_run(metadata: dict[str, Any], epochs: int = 4, *, fail: str | None = None) -> int | None:
    log = open_run_log()
    run_id = log.start(start_of(metadata))
    for epoch in range(1, epochs + 1):
        log.epoch(epoch, train_loss=2e-5 / epoch, val_loss=3e-5 / epoch, lr=1e-3, seconds=0.9)
    if fail:
        log.fail(fail)
    else:
        log.complete(VersionMetadata.from_json(metadata))
    return run_id


def write_version(models_dir: Path, metadata: dict[str, Any]) -> Path:
    folder = models_dir / metadata["symbol"] / "price" / metadata["version_id"]
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2))
    return folder


def warnings_in(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]


# ------------------------------------------------------------------------------------------ the run log


def test_a_full_run_is_logged(database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    metadata = make_metadata("2026-11-26_184312_attention_lstm_default")
    log = open_run_log()
    assert log.active
    run_id = log.start(start_of(metadata))
    assert isinstance(run_id, int)
    with session() as s:  # visible as `started` while training
        assert s.get(TrainingRun, run_id).status == "started"
    for epoch in range(1, 5):
        log.epoch(epoch, train_loss=2e-5 / epoch, val_loss=3e-5 / epoch, lr=1e-3 / epoch, seconds=0.9)
    log.complete(VersionMetadata.from_json(metadata))
    assert warnings_in(capsys) == []

    with session() as s:
        run = s.get(TrainingRun, run_id)
        assert (run.status, run.origin, run.error) == ("completed", "live", None)
        assert (run.version_id, run.symbol, run.timeframe, run.architecture, run.variant) == (
            "2026-11-26_184312_attention_lstm_default", "BTCUSDT", "1h", "attention_lstm", "default")
        assert (run.epochs, run.epochs_run, run.batch_size, run.sequence_length, run.learning_rate, run.seed,
                run.device, run.days) == (20, 4, 32, 60, 0.001, 42, "cpu", 30.0)
        assert run.params["features"][0] == "log_return_1"
        assert (run.data_source, run.data_rows, run.data_gaps) == ("binance", 780, 1)
        assert run.data_start == datetime(2026, 10, 27, tzinfo=timezone.utc)
        assert run.data_end == datetime(2026, 11, 26, tzinfo=timezone.utc)
        assert run.started_at.tzinfo is not None and run.started_at <= run.finished_at
        assert (run.test_rmse, run.test_mae, run.mape, run.directional_accuracy) == (412.7, 301.2, 0.33, 51.4)
        assert (run.naive_test_rmse, run.rmse_skill_vs_naive, run.dm_p_value, run.dm_statistic) == (
            405.1, -0.0188, 0.40, 0.84)
        assert (run.directional_accuracy_ci_low, run.directional_accuracy_ci_high) == (41.9, 60.8)
        assert (run.training_time_s, run.inference_ms_p50, run.parameters) == (48.2, 1.9, 118273)
        assert run.host and run.atb_version
        assert run.run_metadata == metadata
        assert [(e.epoch, e.val_loss, e.lr) for e in run.epoch_rows] == [
            (epoch, 3e-5 / epoch, 1e-3 / epoch) for epoch in range(1, 5)]


def test_failed_and_interrupted_runs_are_logged_as_such(database: Database) -> None:
    failed = log_run(make_metadata("v-failed"), epochs=2, fail="RuntimeError: loss became NaN at epoch 3")

    with pytest.raises(KeyboardInterrupt), open_run_log() as log:
        interrupted = log.start(start_of(make_metadata("v-interrupted")))
        log.epoch(1, 1.0, 1.0, 1e-3, 1.0)
        raise KeyboardInterrupt

    odd = open_run_log()
    odd_id = odd.start(start_of(make_metadata("v-odd")))
    odd.fail("ValueError: bad window", status="exploded")  # unknown statuses become "failed"

    with session() as s:
        run = s.get(TrainingRun, failed)
        assert (run.status, run.error, run.finished_at is not None) == (
            "failed", "RuntimeError: loss became NaN at epoch 3", True)
        assert len(run.epoch_rows) == 2 and run.test_rmse is None and run.run_metadata is None
        assert (s.get(TrainingRun, interrupted).status, s.get(TrainingRun, interrupted).error) == (
            "interrupted", "interrupted")
        assert s.get(TrainingRun, odd_id).status == "failed"


def test_complete_without_start_still_records_the_run(database: Database) -> None:
    metadata = make_metadata("v-no-start")
    log = open_run_log()
    log.complete(VersionMetadata.from_json(metadata))
    with session() as s:
        run = s.get(TrainingRun, log.run_id)
        assert (run.version_id, run.status, run.origin, run.test_rmse) == ("v-no-start", "completed", "live", 412.7)


def test_values_a_pipeline_might_hand_over_are_stored(database: Database) -> None:
    np = pytest.importorskip("numpy")
    metadata = make_metadata("v-numpy")
    metadata["evaluation_results"].update(test_rmse=np.float64(10.5), mape=float("nan"), directional_accuracy=None)
    metadata["performance"]["parameters"] = np.int64(5)
    metadata["artifacts"]["dir"] = Path("/models/x")
    log = open_run_log()
    run_id = log.start({**start_of(metadata), "params": {"lr": np.float32(0.5), "path": Path("/x"), "nul": "a\x00b"}})
    log.epoch(np.int64(1), np.float32(0.25), float("inf"), 1e-3, 1.0)
    log.complete(VersionMetadata.from_json(metadata))
    assert log.active
    with session() as s:
        run = s.get(TrainingRun, run_id)
        assert (run.test_rmse, run.mape, run.directional_accuracy, run.parameters) == (10.5, None, None, 5)
        assert run.run_metadata["evaluation_results"]["mape"] is None
        assert run.params["path"] == "/x" and run.params["nul"] == "ab"
        assert [(e.train_loss, e.val_loss) for e in run.epoch_rows] == [(0.25, None)]


def test_first_use_migrates_and_the_schema_is_checked_once_per_process(
        database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = get_engine()
    ensure_schema(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                Base.metadata) == []
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            head_revision()]

    def checked_again(*_: object) -> None:
        raise AssertionError("the schema revision was read twice in one process")

    monkeypatch.setattr(migrate_module, "current_revision", checked_again)
    assert isinstance(log_run(make_metadata("v-after-check")), int)


def test_a_schema_newer_than_this_atb_is_refused(database: Database, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    engine = get_engine()
    ensure_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeedbeef'"))
    monkeypatch.setattr(migrate_module, "_checked", set())  # as if in a new process

    log = open_run_log()
    assert not log.active and log.start(start_of(make_metadata("v"))) is None
    [warning] = warnings_in(capsys)
    assert "f00dfeedbeef" in warning and "upgrade atb" in warning


def test_disabled_logging_touches_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ATB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    metadata = make_metadata("v-off")
    monkeypatch.delenv("ATB_DB", raising=False)
    logs = [open_run_log(enabled=False)]  # --no-db
    monkeypatch.setenv("ATB_DB", "off")
    logs.append(open_run_log())
    for log in logs:
        assert not log.active
        assert log.start(start_of(metadata)) is None
        log.epoch(1, 1.0, 1.0, 1e-3, 1.0)
        log.complete(VersionMetadata.from_json(metadata))
        log.fail("x")
    assert record_benchmark({}, {}, "none", ["v-off"], "completed") is None
    assert not (tmp_path / "data").exists()
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- a database that goes away


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_database_that_is_down_costs_one_warning_and_no_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://trading_bot:{PASSWORD}@127.0.0.1:{closed_port()}/db")
    began = time.monotonic()
    assert log_run(make_metadata("v-down")) is None
    assert time.monotonic() - began < 5
    [warning] = warnings_in(capsys)
    assert "***" in warning and PASSWORD not in warning and "sync" in warning

    assert record_benchmark({"quick": True}, {}, "INVESTIGATE", ["v-down"], "completed") is None
    assert len(warnings_in(capsys)) == 1


def test_a_server_that_never_answers_is_given_up_after_the_connect_timeout(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # A listening socket nobody accepts from: the TCP handshake succeeds, the server never speaks.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        monkeypatch.setenv("DATABASE_URL", f"postgresql://trading_bot:{PASSWORD}@127.0.0.1:{port}/db")
        monkeypatch.setenv("ATB_DB_TIMEOUT", "1")  # libpq waits 2 s at least
        began = time.monotonic()
        log = open_run_log()
        waited = time.monotonic() - began
    assert not log.active
    assert waited < 8
    assert len(warnings_in(capsys)) == 1


class TcpProxy:
    """Forwards a local port to the database server until `cut()`: then every open connection drops and
    new ones are refused, which is what a crashed server or a lost network looks like to the client."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._stop.set()
        self._listener.close()
        for end in self._sockets:
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


@dataclass
class Outage:
    start: Callable[[], object]
    end: Callable[[], object]


@pytest.fixture(params=BACKENDS)
def flaky_database(request: pytest.FixtureRequest, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Database, Outage]]:
    """A database the run log reaches, and an outage to start mid-run and end before the sync.
    PostgreSQL: the log connects through a TCP proxy that is cut. SQLite: another connection takes an
    exclusive lock, so every write is refused after the busy timeout."""
    if request.param == "sqlite":
        with use_database("sqlite", tmp_path, monkeypatch) as database, closing(
                sqlite3.connect(":memory:", isolation_level=None)) as blocker:
            monkeypatch.setenv("ATB_DB_TIMEOUT", "0.5")  # the busy timeout: how long a refused write waits

            def lock() -> None:
                blocker.execute("ATTACH DATABASE ? AS run_log", (database.url.database,))
                blocker.execute("BEGIN EXCLUSIVE")

            yield database, Outage(start=lock, end=lambda: blocker.execute("ROLLBACK"))
        return
    with postgres_schema() as url:
        proxy = TcpProxy(url.host or "localhost", url.port or 5432)
        monkeypatch.setenv("DATABASE_URL", url.set(host="127.0.0.1", port=proxy.port)
                           .render_as_string(hide_password=False))
        # The proxy stays cut: sync goes to the server directly, as a later `atb db sync` would.
        yield Database("postgresql", url), Outage(start=proxy.cut, end=lambda: None)
        proxy.cut()


def test_losing_the_database_mid_run_warns_once_and_sync_recovers_the_run(
        flaky_database: tuple[Database, Outage], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database, outage = flaky_database
    metadata = make_metadata("2026-11-26_200000_tcn_default", architecture="tcn")
    log = open_run_log()
    run_id = log.start(start_of(metadata))
    log.epoch(1, 2e-5, 3e-5, 1e-3, 0.9)
    log.epoch(2, 1e-5, 2e-5, 1e-3, 0.9)
    assert isinstance(run_id, int) and warnings_in(capsys) == []

    outage.start()
    began = time.monotonic()
    for epoch in range(3, 7):  # training goes on; only the first failed write waits, and warns
        log.epoch(epoch, 1e-5, 2e-5, 1e-3, 0.9)
    log.complete(VersionMetadata.from_json(metadata))
    assert time.monotonic() - began < 10
    assert not log.active
    [warning] = warnings_in(capsys)
    assert "epoch 3" in warning and PASSWORD not in warning

    # The registry still has the model; sync puts the result where the database lost it.
    models = tmp_path / "models"
    write_version(models, metadata)
    outage.end()
    report = sync_registry(models, database.url)
    assert (report.scanned, report.added, report.completed, report.present) == (
        1, [], ["2026-11-26_200000_tcn_default"], 0)
    assert sync_registry(models, database.url).present == 1  # idempotent

    with Session(get_engine(database.url)) as s:
        rows = s.scalars(select(TrainingRun).where(TrainingRun.version_id == metadata["version_id"])).all()
        assert [row.id for row in rows] == [run_id]  # completed in place, not duplicated
        run = rows[0]
        assert (run.status, run.origin, run.test_rmse, run.epochs_run) == ("completed", "live", 412.7, 4)
        assert run.model_dir == str((models / "BTCUSDT" / "price" / metadata["version_id"]).absolute())
        assert [e.epoch for e in run.epoch_rows] == [1, 2]


# ----------------------------------------------------------------------------------- two runs at once


def _log_one_run(version: str, barrier: Any) -> None:
    """Child process: wait for the other one, then log a whole run against the (fresh) database."""
    barrier.wait(timeout=120)
    if log_run(make_metadata(version, architecture="tcn"), epochs=5) is None:
        raise SystemExit(3)


def test_two_processes_log_at_once(database: Database) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    children = [context.Process(target=_log_one_run, args=(f"v-process-{i}", barrier)) for i in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=180)
    assert [child.exitcode for child in children] == [0, 0]

    with session() as s:
        runs = s.scalars(select(TrainingRun).order_by(TrainingRun.version_id)).all()
        assert [(run.version_id, run.status) for run in runs] == [
            ("v-process-0", "completed"), ("v-process-1", "completed")]
        assert [len(run.epoch_rows) for run in runs] == [5, 5]
        assert s.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


# ----------------------------------------------------------------------------- registry and benchmarks


def test_sync_registry_backfills_every_version_once(database: Database, tmp_path: Path) -> None:
    models = tmp_path / "models"
    logged = make_metadata("2026-11-26_100000_cnn_lstm_default", architecture="cnn_lstm")
    write_version(models, logged)
    write_version(models, make_metadata("2026-11-26_110000_tcn_default", architecture="tcn"))
    write_version(models, make_metadata("2026-11-26_120000_tcn_default", symbol="ETHUSDT", architecture="tcn"))
    (models / "BTCUSDT" / "price" / "latest").symlink_to("2026-11-26_110000_tcn_default")
    write_version(models, make_metadata(".tmp-2026-11-26_130000_tcn_default"))  # being written
    broken = models / "SOLUSDT" / "price" / "2026-11-26_140000_tcn_default"
    broken.mkdir(parents=True)
    (broken / "metadata.json").write_text("{not json")
    live_id = log_run(logged)

    report = sync_registry(models)
    assert report.scanned == 4
    assert report.added == ["2026-11-26_110000_tcn_default", "2026-11-26_120000_tcn_default"]
    assert (report.completed, report.present) == ([], 1)
    assert [path.parent for path, _ in report.errors] == [broken]
    again = sync_registry(models)
    assert (again.added, again.completed, again.present, len(again.errors)) == ([], [], 3, 1)

    with session() as s:
        runs = {run.version_id: run for run in s.scalars(select(TrainingRun))}
        assert len(runs) == 3
        assert runs[logged["version_id"]].id == live_id
        eth = runs["2026-11-26_120000_tcn_default"]
        assert (eth.origin, eth.status, eth.symbol, eth.started_at) == ("sync", "completed", "ETHUSDT", None)
        assert eth.finished_at == datetime(2026, 11, 26, 18, 43, 12, tzinfo=timezone.utc)
        assert eth.test_rmse == 412.7 and eth.run_metadata["symbol"] == "ETHUSDT"


def test_sync_adds_a_real_and_a_synthetic_version_of_the_same_second(database: Database, tmp_path: Path) -> None:
    """Two versions trained in one second share a name: one per registry folder (BTCUSDT/, BTCUSDT-SYNTHETIC/)."""
    models = tmp_path / "models"
    name = "2026-11-26_100000_tcn_lightweight"
    write_version(models, make_metadata(name, architecture="tcn", variant="lightweight"))
    synthetic = make_metadata(name, architecture="tcn", variant="lightweight")
    synthetic["data"].update(source="synthetic", synthetic=True)
    folder = models / "BTCUSDT-SYNTHETIC" / "price" / name
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps(synthetic))
    report = sync_registry(models)
    assert (report.added, report.present, report.errors) == ([name, name], 0, [])
    assert sync_registry(models).present == 2  # idempotent for both
    with session() as s:
        assert sorted(run.data_source for run in s.scalars(select(TrainingRun))) == ["binance", "synthetic"]


def test_sync_reports_an_unreachable_database_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://trading_bot:{PASSWORD}@127.0.0.1:{closed_port()}/db")
    write_version(tmp_path / "models", make_metadata("v"))
    with pytest.raises(TrackingError) as caught:
        sync_registry(tmp_path / "models")
    assert "\n" not in str(caught.value) and PASSWORD not in str(caught.value)


def test_record_benchmark_links_the_runs_it_compared(database: Database) -> None:
    cnn = log_run(make_metadata("v-cnn", architecture="cnn_lstm", test_rmse=420.0))
    attention = log_run(make_metadata("v-attention", test_rmse=401.0))
    log_run(make_metadata("v-attention"), fail="retried")  # an older failed attempt must not be linked
    settings = {"mode": "quick", "days": 7, "epochs": 5, "symbols": ["BTCUSDT"]}
    results = {"rmse_improvement_pct": {"attention_lstm": 4.5, "tcn": float("nan")}, "dm_p_value": 0.31}
    bench_id = record_benchmark(settings, results, "INVESTIGATE: marginal improvement (<5%)",
                                ["v-cnn", "v-attention", "v-never-logged"], "completed")
    assert isinstance(bench_id, int)
    with session() as s:
        bench = s.get(BenchmarkRun, bench_id)
        assert sorted(run.id for run in bench.training_runs) == sorted([cnn, attention])
        assert bench.version_ids == ["v-cnn", "v-attention", "v-never-logged"]
        assert bench.results["rmse_improvement_pct"]["tcn"] is None
        assert (bench.status, bench.settings, bench.decision) == (
            "completed", settings, "INVESTIGATE: marginal improvement (<5%)")
        assert bench.created_at.tzinfo is not None


# ------------------------------------------------------------------------------------------------ CLI


runner = CliRunner()


def test_cli_db_check_and_upgrade(database: Database) -> None:
    result = runner.invoke(db_cli.app, ["check"])
    assert result.exit_code == 0, result.output
    assert f"backend:  {database.backend}" in result.stdout
    assert masked(database.url) in result.stdout and PASSWORD not in result.stdout
    assert "schema:   none" in result.stdout

    result = runner.invoke(db_cli.app, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert f"upgraded empty -> {head_revision()}" in result.stdout
    assert f"already at {head_revision()}" in runner.invoke(db_cli.app, ["upgrade"]).stdout
    assert f"schema:   {head_revision()} (up to date)" in runner.invoke(db_cli.app, ["check"]).stdout


def test_cli_db_check_without_a_server_is_one_line_and_nonzero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://trading_bot:{PASSWORD}@127.0.0.1:{closed_port()}/db")
    result = runner.invoke(db_cli.app, ["check"])
    assert result.exit_code == 1
    assert isinstance(result.exception, TrackingError)  # atb's entry point prints it as `error: ...`
    message = str(result.exception)
    assert "\n" not in message and PASSWORD not in message
    assert message.startswith("cannot connect to the run-log database postgresql+psycopg://trading_bot:***@")


def test_cli_runs_list_and_show(database: Database) -> None:
    btc = log_run(make_metadata("v-btc-tcn", architecture="tcn"))
    eth = log_run(make_metadata("v-eth-cnn", symbol="ETHUSDT", architecture="cnn_lstm"), epochs=2, fail="boom")

    def listed(*options: str) -> list[dict[str, Any]]:
        result = runner.invoke(runs_cli.app, ["list", "--json", *options])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    everything = listed()
    assert [run["id"] for run in everything] == [eth, btc]  # newest first
    assert everything[1]["test_rmse"] == 412.7 and everything[1]["started_at"].endswith("+00:00")
    assert [run["id"] for run in listed("--symbol", "ethusdt")] == [eth]
    assert [run["id"] for run in listed("--architecture", "tcn")] == [btc]
    assert [run["id"] for run in listed("--status", "failed")] == [eth]
    assert [run["id"] for run in listed("--limit", "1")] == [eth]
    assert listed("--symbol", "SOLUSDT") == []

    bad = runner.invoke(runs_cli.app, ["list", "--status", "exploded"])
    assert isinstance(bad.exception, UsageError)

    table = runner.invoke(runs_cli.app, ["list"])
    assert table.exit_code == 0 and "BTCUSDT" in table.stdout and "failed" in table.stdout

    shown = runner.invoke(runs_cli.app, ["show", str(btc), "--json"])
    assert shown.exit_code == 0, shown.output
    run = json.loads(shown.stdout)
    assert [epoch["epoch"] for epoch in run["epochs_history"]] == [1, 2, 3, 4]
    assert run["metadata"]["evaluation_results"]["test_rmse"] == 412.7

    text_view = runner.invoke(runs_cli.app, ["show", str(eth)])
    assert text_view.exit_code == 0, text_view.output
    assert "boom" in text_view.stdout and "epochs" in text_view.stdout

    missing = runner.invoke(runs_cli.app, ["show", "999999"])
    assert missing.exit_code == 1 and isinstance(missing.exception, AtbError)


def test_cli_db_sync(database: Database, tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_version(models, make_metadata("2026-11-26_184312_tcn_default", architecture="tcn"))
    first = runner.invoke(db_cli.app, ["sync", "--models-dir", str(models)])
    assert first.exit_code == 0, first.output
    assert "1 added" in first.stdout
    assert "1 already present" in runner.invoke(db_cli.app, ["sync", "--models-dir", str(models)]).stdout

    listed = json.loads(runner.invoke(runs_cli.app, ["list", "--json"]).stdout)
    assert [(run["version_id"], run["origin"]) for run in listed] == [("2026-11-26_184312_tcn_default", "sync")]

    nowhere = runner.invoke(db_cli.app, ["sync", "--models-dir", str(tmp_path / "nowhere")])
    assert nowhere.exit_code == 0 and "no model registry" in nowhere.output


def test_epoch_rows_cascade_with_their_run(database: Database) -> None:
    run_id = log_run(make_metadata("v-delete"))
    with session() as s, s.begin():
        s.delete(s.get(TrainingRun, run_id))
    with session() as s:
        assert s.scalar(select(func.count()).select_from(TrainingEpoch)) == 0


# ------------------------------------------------------------------------ backtest headlines (revision 0002)


def with_backtest(metadata: dict[str, Any]) -> dict[str, Any]:
    """metadata.json with a backtest section as the pipeline writes it (atb.backtest's to_dict, abridged)."""
    metadata["evaluation_results"].update(directional_pt_p_value=0.31,
                                          dm_vs_naive={"statistic": 0.84, "p_value": 0.40, "p_value_one_sided": 0.8})
    strategy = {"total_return": -0.021, "sharpe": -1.25, "sharpe_ci95": [-3.5, 1.0], "max_drawdown": 0.05,
                "n_trades": 37, "fees_paid": 0.0444}
    metadata["backtest"] = {"mode": "long_flat", "fee_bps": 10.0, "slippage_bps": 2.0, "threshold": 0.0006,
                            "threshold_source": "validation", "bars_per_year": 8760.0, "n_bars": 107,
                            "strategy": strategy, "buy_and_hold": {**strategy, "sharpe": 0.75, "n_trades": 1},
                            "momentum": strategy, "psr_vs_zero": 0.12, "psr_vs_buy_and_hold": 0.04}
    return metadata


def backtest_row(run: TrainingRun) -> tuple:
    return (run.backtest_sharpe, run.backtest_sharpe_ci_low, run.backtest_sharpe_ci_high, run.backtest_total_return,
            run.backtest_max_drawdown, run.backtest_n_trades, run.backtest_fees_paid, run.backtest_psr_vs_zero,
            run.backtest_psr_vs_buy_and_hold, run.backtest_buy_and_hold_sharpe, run.backtest_threshold,
            run.directional_pt_p_value, run.dm_p_value_one_sided)


HEADLINES = (-1.25, -3.5, 1.0, -0.021, 0.05, 37, 0.0444, 0.12, 0.04, 0.75, 0.0006, 0.31, 0.8)


def test_the_backtest_headlines_are_logged_synced_and_listed(database: Database, tmp_path: Path) -> None:
    live = log_run(with_backtest(make_metadata("2026-11-26_100000_tcn_default", architecture="tcn")))
    models = tmp_path / "models"
    write_version(models, with_backtest(make_metadata("2026-11-26_110000_cnn_lstm_default", architecture="cnn_lstm")))
    skipped = make_metadata("2026-11-26_120000_tcn_default", architecture="tcn")
    skipped["backtest"] = {"skipped": "the backtest supports horizon 1 only (got 4)"}
    write_version(models, skipped)
    old = log_run(make_metadata("2026-11-26_130000_attention_lstm_default"))  # before the backtest: no figures
    assert sync_registry(models).added == ["2026-11-26_110000_cnn_lstm_default", "2026-11-26_120000_tcn_default"]
    with session() as s:
        runs = {run.version_id: run for run in s.scalars(select(TrainingRun))}
        assert backtest_row(s.get(TrainingRun, live)) == HEADLINES
        assert backtest_row(runs["2026-11-26_110000_cnn_lstm_default"]) == HEADLINES
        assert backtest_row(runs["2026-11-26_120000_tcn_default"])[:11] == (None,) * 11
        assert backtest_row(s.get(TrainingRun, old))[:11] == (None,) * 11

    listed = json.loads(runner.invoke(runs_cli.app, ["list", "--json"]).stdout)
    assert {run["version_id"]: run["backtest_psr_vs_buy_and_hold"] for run in listed}[
        "2026-11-26_100000_tcn_default"] == 0.04
    table = runner.invoke(runs_cli.app, ["list", "--trading", "--architecture", "tcn"], env={"COLUMNS": "80"})
    assert table.exit_code == 0, table.output
    assert max(len(line.rstrip()) for line in table.stdout.splitlines()) <= 80
    headers = {word for line in table.stdout.splitlines() for word in line.split()}
    assert {"Sharpe", "PSR", "Trades", "Fees"} <= headers, table.stdout  # a narrow terminal splits the table
    cells = [w for line in table.stdout.splitlines() if line.strip().startswith(f"{live} ") for w in line.split()]
    assert {"-1.25", "0.040", "37", "4.44%"} <= set(cells), table.stdout
    shown = runner.invoke(runs_cli.app, ["show", str(live)])
    assert "backtest_psr_vs_buy_and_hold" in shown.stdout and "dm_p_value_one_sided" in shown.stdout


def test_a_run_log_at_revision_0001_upgrades_and_keeps_its_runs(database: Database) -> None:
    from alembic import command

    from atb.tracking.migrate import alembic_config, upgrade

    engine = get_engine()
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
        connection.execute(text("INSERT INTO training_runs (version_id, status, origin, test_rmse) "
                                "VALUES ('v-old', 'completed', 'live', 412.7)"))
    assert upgrade(engine) == ("0001", head_revision())
    with session() as s:
        (run,) = s.scalars(select(TrainingRun)).all()
        assert (run.version_id, run.test_rmse, run.backtest_sharpe, run.backtest_n_trades) == ("v-old", 412.7,
                                                                                                None, None)
    with engine.begin() as connection:  # and back down: the 0002 columns go, the run stays
        command.downgrade(alembic_config(connection), "0001")
        columns = {c["name"] for c in inspect(connection).get_columns("training_runs")}
        assert "backtest_sharpe" not in columns and "test_rmse" in columns
        assert connection.execute(text("SELECT version_id FROM training_runs")).scalars().all() == ["v-old"]
