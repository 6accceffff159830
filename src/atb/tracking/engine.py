"""One SQLAlchemy engine per process and database, with timeouts that bound what a slow or dead database
can cost a training run."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine

from atb.tracking.errors import TrackingError, one_line
from atb.tracking.settings import database_url, masked, timeout_s

_engines: dict[tuple[int, str], Engine] = {}
_lock = threading.Lock()


def get_engine(url: URL | None = None) -> Engine:
    """The cached engine for `url` (default: settings.database_url()); keyed by pid so a forked child
    never reuses its parent's pooled connections."""
    url = url or database_url()
    key = (os.getpid(), url.render_as_string(hide_password=False))
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            with database_errors(url, "open"):
                engine = _engines[key] = _create(url)
    return engine


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL; None for other backends and in-memory databases."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):
        return None
    return Path(url.database)


def run_log_exists(url: URL) -> bool:
    """False only for a SQLite run log whose file does not exist yet: a reader then has nothing to read and
    must not create it (`atb runs list` on a fresh machine)."""
    path = sqlite_path(url)
    return path is None or path.exists()


@contextmanager
def database_errors(url: URL, doing: str = "reach") -> Iterator[None]:
    """Any driver, network or lock error becomes one TrackingError line that names the (masked) URL."""
    try:
        yield
    except TrackingError:
        raise
    except Exception as exc:  # drivers raise many types (psycopg, sqlite3, OSError, filelock.Timeout)
        raise TrackingError(f"cannot {doing} the run-log database {masked(url)}: {one_line(exc)}") from exc


def _create(url: URL) -> Engine:
    backend = url.get_backend_name()
    timeout = timeout_s()
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": timeout})
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2,
                             connect_args=_postgres_connect_args(url, timeout))
    return create_engine(url, pool_pre_ping=True)


def _postgres_connect_args(url: URL, timeout: float) -> dict[str, Any]:
    """libpq options: a connect timeout, a statement timeout and TCP probes so that a server that hangs or
    vanishes mid-run turns into an error within seconds instead of blocking training."""
    statement_ms = int(max(10.0, 4 * timeout) * 1000)
    # connect_args replace the URL's own `options`, so keep those (tests set search_path there).
    options = " ".join(filter(None, [str(url.query.get("options", "")),
                                     f"-c statement_timeout={statement_ms}"]))
    return {
        "connect_timeout": max(2, math.ceil(timeout)),  # libpq's minimum is 2 s
        "options": options,
        "application_name": "atb",
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": statement_ms,
    }


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        # WAL: readers never block the writer, so two training runs (and `atb runs list`) work at once.
        # The mode is stored in the file: switch only once, since switching needs the database to itself.
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def dispose_all() -> None:
    """Close every pooled connection of this process (tests; long-lived callers switching databases)."""
    with _lock:
        for (pid, _), engine in list(_engines.items()):
            if pid == os.getpid():
                engine.dispose()
        _engines.clear()
