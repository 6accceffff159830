"""Where the run log lives: `DATABASE_URL`, else SQLite in the data directory; `ATB_DB=off` disables it."""

from __future__ import annotations

import os

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from atb.config import data_dir
from atb.tracking.errors import TrackingError

SQLITE_FILE = "atb.sqlite"
DEFAULT_TIMEOUT_S = 3.0  # connect timeout (PostgreSQL) and busy timeout (SQLite)
_OFF = {"off", "0", "false", "no", "disabled", "none"}


def logging_enabled() -> bool:
    return os.environ.get("ATB_DB", "").strip().lower() not in _OFF


def timeout_s() -> float:
    """`ATB_DB_TIMEOUT` seconds, so that a slow or dead database costs a bounded wait."""
    try:
        value = float(os.environ.get("ATB_DB_TIMEOUT", DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


def database_url() -> URL:
    raw = os.environ.get("DATABASE_URL", "").strip()
    if raw:
        return normalize_url(raw)
    return URL.create("sqlite", database=str((data_dir() / SQLITE_FILE).absolute()))


def normalize_url(raw: str) -> URL:
    """Accept the guide's `postgresql://` (and Heroku's `postgres://`): we ship the psycopg 3 driver."""
    try:
        url = make_url(raw)
    except ArgumentError:
        # Never echo the string: it may hold a password.
        raise TrackingError(
            "DATABASE_URL is not a database URL (expected postgresql://user:password@host:5432/database)"
        ) from None
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def masked(url: URL) -> str:
    return url.render_as_string(hide_password=True)
