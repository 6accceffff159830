"""Record one Phase-1 benchmark and link it to the training runs it compared."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atb.jsonio import clean_text, to_jsonable
from atb.tracking import provenance
from atb.tracking.engine import get_engine
from atb.tracking.errors import one_line
from atb.tracking.migrate import ensure_schema
from atb.tracking.schema import BenchmarkRun, TrainingRun
from atb.tracking.settings import database_url, logging_enabled

log = logging.getLogger(__name__)


def record_benchmark(settings: Mapping[str, Any], results: Mapping[str, Any], decision: str,
                     version_ids: Iterable[str], status: str, *, enabled: bool = True) -> int | None:
    """The new benchmark_runs id, or None when logging is off or the database fails (one warning).
    Versions the database has no row for stay listed in `version_ids`; `atb db sync` can add their runs."""
    if not enabled or not logging_enabled():
        return None
    versions = [str(version) for version in version_ids]
    try:
        engine = get_engine(database_url())
        ensure_schema(engine)
        with Session(engine, expire_on_commit=False) as session, session.begin():
            row = BenchmarkRun(status=clean_text(status) or "completed", decision=clean_text(decision),
                               settings=to_jsonable(settings), results=to_jsonable(results),
                               version_ids=to_jsonable(versions), host=provenance.host(),
                               atb_version=provenance.atb_version(), git_commit=provenance.git_commit())
            row.training_runs = _runs_for(session, versions)
            session.add(row)
            session.flush()
            return row.id
    except Exception as exc:  # a benchmark's report files are its record; the database is a convenience
        log.warning(f"benchmark not recorded in the run log: {one_line(exc)}")
        return None


def _runs_for(session: Session, versions: list[str]) -> list[TrainingRun]:
    """One row per version: its completed run if there is one, else its newest."""
    if not versions:
        return []
    rows = session.scalars(select(TrainingRun).where(TrainingRun.version_id.in_(set(versions)))
                           .order_by(TrainingRun.id.desc())).all()
    best: dict[str, TrainingRun] = {}
    for row in rows:
        assert row.version_id is not None
        chosen = best.get(row.version_id)
        if chosen is None or (chosen.status != "completed" and row.status == "completed"):
            best[row.version_id] = row
    return [best[version] for version in dict.fromkeys(versions) if version in best]
