"""The training pipeline's handle on the run log. A result is never lost to the database: any failure
costs one warning line, after which the logger stops trying for that run; metadata.json in the model
registry stays the source of truth, and `atb db sync` backfills what the database missed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from atb.jsonio import clean_text
from atb.registry.metadata import VersionMetadata
from atb.tracking import provenance
from atb.tracking.engine import get_engine
from atb.tracking.errors import one_line
from atb.tracking.mapping import metadata_columns, start_columns
from atb.tracking.migrate import ensure_schema
from atb.tracking.schema import FINISHED_STATUSES, TrainingEpoch, TrainingRun, utcnow
from atb.tracking.settings import database_url, logging_enabled, masked
from atb.tracking.values import as_float

log = logging.getLogger(__name__)

T = TypeVar("T")
_CONTINUES = "training continues; metadata.json stays the record (`atb db sync` adds it later)"


def open_run_log(enabled: bool = True) -> RunLog:
    """A logger for one training run. Never raises: disabled (`enabled=False`, `ATB_DB=off`) or
    unreachable, it is a no-op, and unreachable costs one warning line."""
    if not enabled or not logging_enabled():
        return RunLog(None)
    try:
        engine = get_engine(database_url())
        ensure_schema(engine)  # connects: a dead or slow server fails here, within the connect timeout
    except Exception as exc:
        log.warning(f"run log off for this run: {one_line(exc)}; {_CONTINUES}")
        return RunLog(None)
    return RunLog(engine)


class RunLog:
    """start -> epoch* -> complete | fail. Every call is one short transaction of its own."""

    def __init__(self, engine: Engine | None) -> None:
        self._engine = engine
        self._dead = engine is None
        self.run_id: int | None = None
        self._finished = False

    @property
    def active(self) -> bool:
        """False once disabled or after a failed write."""
        return not self._dead

    def start(self, run: Mapping[str, Any]) -> int | None:
        def insert(session: Session) -> int:
            row = TrainingRun(**start_columns(run), status="started", origin="live", started_at=utcnow(),
                              host=provenance.host(), atb_version=provenance.atb_version(),
                              git_commit=provenance.git_commit())
            session.add(row)
            session.flush()
            return row.id

        self._finished = False
        self.run_id = self._write("the start of the run", insert)
        return self.run_id

    def epoch(self, epoch: int, train_loss: float, val_loss: float, lr: float, seconds: float) -> None:
        run_id = self.run_id
        if run_id is None:
            return
        self._write(f"epoch {epoch}", lambda session: session.add(TrainingEpoch(
            run_id=run_id, epoch=int(epoch), train_loss=as_float(train_loss), val_loss=as_float(val_loss),
            lr=as_float(lr), seconds=as_float(seconds))))

    def complete(self, metadata: VersionMetadata) -> None:
        def update(session: Session) -> None:
            columns = metadata_columns(metadata)
            row = session.get(TrainingRun, self.run_id) if self.run_id is not None else None
            if row is None:  # start() was never called: record the finished run on its own
                row = TrainingRun(origin="live", started_at=None, host=provenance.host(),
                                  atb_version=provenance.atb_version(), git_commit=provenance.git_commit())
                session.add(row)
            if row.params and columns["params"]:
                columns["params"] = {**row.params, **columns["params"]}
            for name, value in columns.items():
                if value is not None:  # what start() knew and the metadata lacks stays
                    setattr(row, name, value)
            row.status, row.error, row.finished_at = "completed", None, utcnow()
            session.flush()
            self.run_id = row.id

        self._write("the completed run", update)
        self._finished = True

    def fail(self, error: str, status: str = "failed") -> None:
        run_id = self.run_id
        if run_id is None:
            return
        status = status if status in FINISHED_STATUSES else "failed"

        def update(session: Session) -> None:
            row = session.get(TrainingRun, run_id)
            if row is not None:
                row.status, row.error, row.finished_at = status, clean_text(error), utcnow()

        self._write(f"the {status} run", update)
        self._finished = True

    def _write(self, what: str, action: Callable[[Session], T]) -> T | None:
        if self._dead or self._engine is None:
            return None
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                return action(session)
        except Exception as exc:  # the database must never cost the training run
            self._dead = True
            log.warning(f"run log stopped: could not record {what} in {masked(self._engine.url)}: {one_line(exc)}; "
                 f"{_CONTINUES}")
            return None

    # `with open_run_log() as log:` records an exception that escapes the block as failed/interrupted.
    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 _tb: TracebackType | None) -> None:
        if kind is None or self._finished:
            return
        if issubclass(kind, KeyboardInterrupt):
            self.fail("interrupted", status="interrupted")
        else:
            self.fail(f"{kind.__name__}: {exc}")
