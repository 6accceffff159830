"""Where a study lives: never in the run-log database (Optuna's tables and atb's Alembic migrations would clash).

Default: one journal file per study, ``$ATB_DATA_DIR/optuna/<study>.journal`` (Optuna's JournalStorage with a file
backend: safe under parallel worker processes, where SQLite would lock). ``--storage`` takes a journal file path
or any SQLAlchemy URL (e.g. postgresql://...), except the run log's own database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from atb.config import data_dir
from atb.errors import UsageError

STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
SUFFIX = ".journal"


@dataclass(frozen=True)
class StorageSpec:
    url: str | None  # a SQLAlchemy URL, or None for a journal file
    path: Path | None  # the journal file

    @property
    def label(self) -> str:
        """What metadata.json's tuning.storage and the CLI show (a URL without its password)."""
        if self.url is None:
            return str(self.path)
        from sqlalchemy.engine import make_url  # deferred: SQLAlchemy is not needed by `atb --help`

        return make_url(self.url).render_as_string(hide_password=True)

    def to_arg(self) -> str:
        """The string that resolve() turns back into this spec (to hand to a worker process)."""
        return self.url if self.url is not None else str(self.path)


def check_study_name(name: str) -> str:
    if not STUDY_NAME.match(name):
        raise UsageError(f"--study {name!r}: use letters, digits, '_', '-' and '.' (at most 100, starting with a "
                         "letter or digit)")
    return name


def default_path(study: str) -> Path:
    return (data_dir() / "optuna" / f"{check_study_name(study)}{SUFFIX}").absolute()


def resolve(storage: str | None, study: str) -> StorageSpec:
    """--storage (a URL or a journal path) or the default journal file of `study`; UsageError for the run log."""
    if not storage:
        return StorageSpec(None, default_path(study))
    if "://" not in storage:
        path = Path(storage).expanduser().absolute()
        if path.is_dir():
            raise UsageError(f"--storage {storage}: a directory; give a journal file (e.g. {path}/{study}{SUFFIX}) "
                             "or a database URL")
        _refuse_run_log_file(path, storage)
        return StorageSpec(None, path)
    from sqlalchemy.engine import make_url  # deferred (see above)
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(storage)
    except ArgumentError:
        raise UsageError(f"--storage {storage!r} is not a database URL (e.g. postgresql://user@host/optuna) or a "
                         "journal file path") from None
    _refuse_run_log_url(url, storage)
    return StorageSpec(storage, None)


def open_storage(spec: StorageSpec):
    """The Optuna storage object (its tables or file created on first use)."""
    # Deferred: optuna and SQLAlchemy load only when a study runs.
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if spec.url is None:
        try:
            spec.path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(spec.path)))
        except OSError as exc:
            raise UsageError(f"--storage {spec.path}: {exc.strerror or exc}") from None
    try:
        return optuna.storages.RDBStorage(spec.url, engine_kwargs={"pool_pre_ping": True})
    except Exception as exc:  # bad driver, unreachable server, bad credentials: one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"cannot open the study storage {spec.label}: {first}") from None


def _refuse_run_log_url(url, raw: str) -> None:
    from atb.tracking.settings import database_url, normalize_url  # deferred (SQLAlchemy)

    run_log = database_url()
    try:
        given = normalize_url(raw)
    except Exception:
        given = url
    same_sqlite = (given.get_backend_name() == "sqlite" and run_log.get_backend_name() == "sqlite"
                   and given.database and run_log.database
                   and Path(given.database).absolute() == Path(run_log.database).absolute())
    same_server = (given.get_backend_name() == run_log.get_backend_name() and given.host == run_log.host
                   and given.port == run_log.port and given.database == run_log.database)
    if same_sqlite or same_server:
        raise UsageError(f"--storage {url.render_as_string(hide_password=True)} is atb's run-log database: keep the "
                         "study in its own storage (the default journal file, or another database)")


def _refuse_run_log_file(path: Path, raw: str) -> None:
    from atb.tracking.settings import database_url  # deferred (SQLAlchemy)

    run_log = database_url()
    if run_log.get_backend_name() == "sqlite" and run_log.database and Path(run_log.database).absolute() == path:
        raise UsageError(f"--storage {raw} is atb's run-log database: keep the study in its own storage")
