"""The run log: every training run and benchmark in a database (SQLite by default, PostgreSQL through
DATABASE_URL). A convenience for querying history; metadata.json in the model registry stays the source of
truth, and nothing here may ever cost a training run its result.

    from atb.tracking import open_run_log, record_benchmark, sync_registry

The names load on first use, so importing this package costs nothing until the database is needed
(SQLAlchemy and alembic take about a third of a second).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atb.tracking.benchmarks import record_benchmark
    from atb.tracking.errors import TrackingError
    from atb.tracking.runlog import RunLog, open_run_log
    from atb.tracking.sync import SyncReport, sync_registry

_HOMES = {
    "open_run_log": "runlog",
    "RunLog": "runlog",
    "record_benchmark": "benchmarks",
    "sync_registry": "sync",
    "SyncReport": "sync",
    "TrackingError": "errors",
}
__all__ = ["RunLog", "SyncReport", "TrackingError", "open_run_log", "record_benchmark", "sync_registry"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'atb.tracking' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"atb.tracking.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
