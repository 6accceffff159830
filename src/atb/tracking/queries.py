"""Read the run log back for `atb runs list` and `atb runs show`, as plain dicts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from atb.tracking.engine import database_errors
from atb.tracking.migrate import ensure_schema
from atb.tracking.schema import BenchmarkRun, TrainingEpoch, TrainingRun, benchmark_run_training_runs

_DOCUMENTS = {"params", "metadata"}  # JSON columns: `runs show` only
SCALAR_COLUMNS = [column.key for column in TrainingRun.__table__.columns if column.key not in _DOCUMENTS]
EPOCH_COLUMNS = ("epoch", "train_loss", "val_loss", "lr", "seconds")


def list_runs(engine: Engine, *, symbol: str | None = None, architecture: str | None = None,
              status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Newest first (by start, or by finish for backfilled runs), every scalar column."""
    ensure_schema(engine)
    query = select(*[TrainingRun.__table__.c[name] for name in SCALAR_COLUMNS])
    if symbol:
        query = query.where(func.upper(TrainingRun.symbol) == symbol.upper())
    if architecture:
        query = query.where(func.lower(TrainingRun.architecture) == architecture.lower().replace("-", "_"))
    if status:
        query = query.where(TrainingRun.status == status.lower())
    when = func.coalesce(TrainingRun.started_at, TrainingRun.finished_at)
    query = query.order_by(when.desc(), TrainingRun.id.desc()).limit(max(1, limit))
    with database_errors(engine.url, "read"), Session(engine) as session:
        return [dict(row._mapping) for row in session.execute(query)]


def get_run(engine: Engine, run_id: int) -> dict[str, Any] | None:
    """Every column (params and metadata JSON too), the epoch history and the benchmarks that used it."""
    ensure_schema(engine)
    with database_errors(engine.url, "read"), Session(engine) as session:
        row = session.get(TrainingRun, run_id)
        if row is None:
            return None
        run = {column.key: getattr(row, _attribute(column.key)) for column in TrainingRun.__table__.columns}
        run["epochs_history"] = [
            {name: getattr(epoch, name) for name in EPOCH_COLUMNS}
            for epoch in session.scalars(select(TrainingEpoch).where(TrainingEpoch.run_id == run_id)
                                         .order_by(TrainingEpoch.epoch, TrainingEpoch.id))
        ]
        run["benchmark_ids"] = list(session.scalars(
            select(BenchmarkRun.id).join(benchmark_run_training_runs)
            .where(benchmark_run_training_runs.c.training_run_id == run_id).order_by(BenchmarkRun.id)))
        return run


def _attribute(column: str) -> str:
    return "run_metadata" if column == "metadata" else column
