"""Backfill the run log from the model registry: every <models_dir>/<SYMBOL>/price/<version>/metadata.json
that the database lacks becomes a completed run. Idempotent; a run whose row was left `started`, `failed`
or `interrupted` (the database went away mid-run) is completed in place rather than duplicated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session

from atb.data.sources import SYNTHETIC
from atb.jsonio import clean_text
from atb.registry.metadata import VersionMetadata
from atb.registry.store import market_symbol
from atb.tracking.engine import database_errors, get_engine
from atb.tracking.mapping import metadata_columns
from atb.tracking.migrate import ensure_schema
from atb.tracking.schema import TrainingRun
from atb.tracking.values import parse_time


@dataclass
class SyncReport:
    models_dir: Path
    scanned: int = 0
    added: list[str] = field(default_factory=list)  # version ids inserted as new rows
    completed: list[str] = field(default_factory=list)  # existing unfinished rows completed from metadata
    present: int = 0  # already recorded as completed
    errors: list[tuple[Path, str]] = field(default_factory=list)  # unreadable metadata.json files

    def summary(self) -> str:
        return (f"{self.scanned} metadata.json in {self.models_dir}: {len(self.added)} added, "
                f"{len(self.completed)} completed, {self.present} already present, "
                f"{len(self.errors)} unreadable")


def registry_metadata_files(models_dir: Path) -> Iterator[Path]:
    """Version folders only: not the `latest` symlink, not hidden or temporary folders being written."""
    for path in sorted(models_dir.glob("*/price/*/metadata.json")):
        folder = path.parent
        if folder.is_symlink() or folder.name.startswith((".", "_")):
            continue
        yield path


def sync_registry(models_dir: Path, url: URL | None = None) -> SyncReport:
    """Raises TrackingError (one line) when the database cannot be reached."""
    models_dir = Path(models_dir)
    report = SyncReport(models_dir)
    files = list(registry_metadata_files(models_dir))
    engine = get_engine(url)
    ensure_schema(engine)
    with database_errors(engine.url, "sync"):
        with Session(engine) as session:
            known = _known_runs(session)
        for path in files:
            report.scanned += 1
            metadata = _read(path, report)
            if metadata is not None:
                _sync_one(engine, path, metadata, known, report)
    return report


Known = dict[str, list[tuple[int, str | None, str, bool | None]]]


def _known_runs(session: Session) -> Known:
    """version id -> (run id, symbol, status, synthetic or None when unknown), newest first."""
    known: Known = {}
    query = select(TrainingRun.id, TrainingRun.version_id, TrainingRun.symbol, TrainingRun.status,
                   TrainingRun.data_source).where(TrainingRun.version_id.is_not(None)).order_by(TrainingRun.id.desc())
    for run_id, version, symbol, status, source in session.execute(query):
        synthetic = None if source is None else source == SYNTHETIC
        known.setdefault(version, []).append((run_id, symbol, status, synthetic))
    return known


def _read(path: Path, report: SyncReport) -> VersionMetadata | None:
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.errors.append((path, str(exc)))
        return None
    if not isinstance(metadata, dict):
        report.errors.append((path, "not a JSON object"))
        return None
    return VersionMetadata.from_json(metadata)  # lenient: the run log keeps what a sparse document has


def _sync_one(engine: Engine, path: Path, metadata: VersionMetadata, known: Known, report: SyncReport) -> None:
    columns = metadata_columns(metadata)
    version = columns["version_id"] or path.parent.name
    symbol = columns["symbol"] or market_symbol(path.parents[2].name)  # BTCUSDT-SYNTHETIC/ holds BTCUSDT runs
    # One second of creation time names a version: a real and a synthetic run of one symbol can share it.
    rows = [row for row in known.get(version, []) if row[1] in (symbol, None) and row[3] in (metadata.synthetic, None)]
    if any(status == "completed" for _, _, status, _ in rows):
        report.present += 1
        return
    columns.update(version_id=version, symbol=symbol, model_dir=str(path.parent.absolute()))
    with Session(engine) as session, session.begin():
        if rows:  # newest unfinished row of this version: the live log that lost its database
            row = session.get(TrainingRun, rows[0][0])
            assert row is not None
            report.completed.append(version)
        else:
            extra = metadata.other  # top-level keys no atb writes today, used if a document has them
            row = TrainingRun(origin="sync", started_at=parse_time(extra.get("started_at")),
                              host=clean_text(extra.get("host")), atb_version=clean_text(metadata.atb_version),
                              git_commit=clean_text(extra.get("git_commit")))
            session.add(row)
            report.added.append(version)
        for name, value in columns.items():
            if value is not None:
                setattr(row, name, value)
        row.status, row.error = "completed", None
        row.finished_at = row.finished_at or parse_time(metadata.created_at)
        session.flush()
        known.setdefault(version, []).insert(0, (row.id, symbol, "completed", metadata.synthetic))
