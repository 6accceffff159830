"""The prediction server's log (`served_predictions`): batched inserts from the server's writer thread, and the
rows `atb ab report` scores. Errors are TrackingError (one line); the server decides what a failure costs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import URL, Engine

from atb.tracking.engine import database_errors, get_engine
from atb.tracking.migrate import ensure_schema
from atb.tracking.schema import ServedPrediction
from atb.tracking.settings import database_url

COLUMNS = ("created_at", "symbol", "version_id", "role", "answered", "source", "timeframe", "last_time",
           "target_time", "last_close", "predicted_return", "predicted_close", "latency_ms")


def open_log(url: URL | None = None) -> Engine:
    """The run-log engine with the schema at head (TrackingError when the database cannot be reached)."""
    engine = get_engine(url or database_url())
    ensure_schema(engine)
    return engine


def insert_rows(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """One transaction for the whole batch (an executemany)."""
    if not rows:
        return
    with database_errors(engine.url, "write the prediction log to"), engine.begin() as connection:
        connection.execute(insert(ServedPrediction), list(rows))


def read_rows(symbol: str, *, since: datetime | None = None, until: datetime | None = None,
              url: URL | None = None) -> list[dict[str, Any]]:
    """Every logged forecast of a registry symbol with target times in [since, until], oldest first."""
    engine = open_log(url)
    table = ServedPrediction
    query = select(*(getattr(table, name) for name in COLUMNS)).where(table.symbol == symbol)
    if since is not None:
        query = query.where(table.target_time >= since)
    if until is not None:
        query = query.where(table.target_time <= until)
    query = query.order_by(table.target_time, table.created_at, table.id)
    with database_errors(engine.url, "read the prediction log from"), engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]
