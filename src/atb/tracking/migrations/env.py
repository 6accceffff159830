"""Alembic environment for the run log. atb configures alembic in code (atb.tracking.migrate) and hands
over an open connection, so there is no alembic.ini and no URL here."""

from __future__ import annotations

from alembic import context

from atb.tracking.schema import Base

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("run the atb migrations with `atb db upgrade` (atb.tracking.migrate.upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite alters tables by copying them; batch mode does that for later migrations.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
