"""The migrations and the models describe the same schema, and ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from atb.tracking.migrate import MIGRATIONS_DIR, alembic_config, head_revision, upgrade
from atb.tracking.schema import Base


def test_one_linear_history_with_a_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert head_revision() == script.get_current_head()


def test_migrations_are_package_data() -> None:
    # pyproject ships migrations/*.py, migrations/versions/*.py and migrations/*.mako; nothing else is read.
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    versions = sorted(p.name for p in (MIGRATIONS_DIR / "versions").iterdir() if p.suffix == ".py")
    assert versions and all(not name.startswith("_") for name in versions)
    assert not list(Path(MIGRATIONS_DIR).glob("*.ini"))  # alembic is configured in code


def test_migrated_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'schema.sqlite'}")
    before, after = upgrade(engine)
    assert (before, after) == (None, head_revision())
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []
    tables = set(inspect(engine).get_table_names())
    assert {"training_runs", "training_epochs", "benchmark_runs", "benchmark_run_training_runs"} <= tables
    engine.dispose()
