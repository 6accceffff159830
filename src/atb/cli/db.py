"""`atb db ...`: the run-log database (check, upgrade, sync from the model registry)."""

from __future__ import annotations

import typer
from rich.markup import escape

from atb.cli import options as opt
from atb.cli.console import out, warn
from atb.config import models_dir as default_models_dir

app = typer.Typer(help="The run-log database: check the connection, upgrade the schema, backfill from "
                       "the model registry.", no_args_is_help=True)


def _say(text: str) -> None:
    """A plain line: no markup, no highlighting, never wrapped or cut (URLs and paths stay copyable)."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command("check")
def check() -> None:
    """Connect and print the backend, the URL (password masked) and the schema revision."""
    # Deferred here and below: SQLAlchemy and alembic take about a third of a second.
    from atb.tracking.engine import database_errors, get_engine, sqlite_path
    from atb.tracking.migrate import current_revision, head_revision
    from atb.tracking.settings import database_url, logging_enabled, masked

    url = database_url()
    path = sqlite_path(url)
    if path is not None and not path.exists():
        revision, version = None, None  # don't create the file just to look at it
    else:
        engine = get_engine(url)
        with database_errors(url, "connect to"), engine.connect() as connection:
            revision = current_revision(connection)
            version = ".".join(str(part) for part in engine.dialect.server_version_info or ())
    head = head_revision()
    _say(f"backend:  {url.get_backend_name()}{f' {version}' if version else ''} ({url.drivername})")
    _say(f"url:      {masked(url)}")
    if path is not None and not path.exists():
        state = "none (the database file is created on first use, or by `atb db upgrade`)"
    elif revision is None:
        state = f"none (no tables yet: first use or `atb db upgrade` creates them at {head})"
    elif revision == head:
        state = f"{revision} (up to date)"
    else:
        state = f"{revision} (latest is {head}: run `atb db upgrade`, or let the next run apply it)"
    _say(f"schema:   {state}")
    if not logging_enabled():
        _say("logging:  off (ATB_DB=off): training runs are not recorded")


@app.command("upgrade")
def upgrade() -> None:
    """Apply the schema migrations (the first use of the database applies them too)."""
    from atb.tracking.engine import get_engine
    from atb.tracking.migrate import upgrade as run_upgrade
    from atb.tracking.settings import database_url, masked

    url = database_url()
    before, after = run_upgrade(get_engine(url))
    change = f"already at {after}" if before == after else f"upgraded {before or 'empty'} -> {after}"
    _say(f"{masked(url)}: schema {change}")


@app.command("sync")
def sync(
    models_dir: opt.ModelsDir = None,
) -> None:
    """Add every model version whose metadata.json the database lacks, as a completed run."""
    from atb.tracking.settings import database_url, masked
    from atb.tracking.sync import sync_registry

    registry = default_models_dir(models_dir)
    if not registry.is_dir():
        warn(escape(f"no model registry at {registry}: nothing to sync"))
        return
    url = database_url()
    report = sync_registry(registry, url)
    for path, reason in report.errors:
        warn(escape(f"skipped {path}: {reason}"))
    _say(f"{masked(url)}: {report.summary()}")
