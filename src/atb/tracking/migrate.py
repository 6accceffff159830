"""Alembic, configured in code: the migrations ship inside the package, so no alembic.ini is needed.
The schema revision is checked once per process; an upgrade runs under a lock so that two processes
that meet a fresh database do not both create the tables."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine

from atb.tracking.engine import database_errors, sqlite_path
from atb.tracking.errors import TrackingError
from atb.tracking.settings import masked

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x61746264  # "atbd": pg_advisory_xact_lock key that serializes atb migrations
_checked: set[tuple[int, str]] = set()
_checked_lock = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@functools.cache  # the migrations shipped with this atb do not change while it runs
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "atb ships at least one migration"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to head; returns (revision before, revision after)."""
    with database_errors(engine.url, "upgrade"), _migration_lock(engine):
        result = _upgrade_locked(engine)
    with _checked_lock:
        _checked.add(_key(engine))
    return result


def ensure_schema(engine: Engine) -> None:
    """Upgrade to head on the first use of `engine` in this process; later calls cost nothing.

    The check runs under the migration lock too: on SQLite the first connection to a new file switches it
    to WAL, which fails with "database is locked" while another process is creating the schema.
    """
    with _checked_lock:
        if _key(engine) in _checked:
            return
    with database_errors(engine.url), _migration_lock(engine):
        with engine.connect() as connection:
            current = current_revision(connection)
        if current != head_revision():
            _upgrade_locked(engine)
    with _checked_lock:
        _checked.add(_key(engine))


def _upgrade_locked(engine: Engine) -> tuple[str | None, str]:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        before = current_revision(connection)
        _refuse_unknown(before, engine)
        if before != head_revision():
            command.upgrade(alembic_config(connection), "head")
        after = current_revision(connection)
    return before, after or head_revision()


def _refuse_unknown(revision: str | None, engine: Engine) -> None:
    if revision is None:
        return
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        raise TrackingError(
            f"the run-log database {masked(engine.url)} is at schema revision {revision}, which this atb "
            f"does not know (newest known: {head_revision()}); upgrade atb"
        ) from None


def _key(engine: Engine) -> tuple[int, str]:
    return os.getpid(), engine.url.render_as_string(hide_password=False)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """SQLite has no advisory locks: a lock file beside the database plays that part."""
    path = sqlite_path(engine.url)
    if path is None:
        yield
        return
    from filelock import FileLock

    with FileLock(f"{path}.migrate.lock", timeout=60):
        yield
