"""The prediction server's log: one row per forecast (`atb serve`), scored by `atb ab report`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

When = sa.DateTime(timezone=True)  # a frozen copy of atb.tracking.schema.UTCDateTime's column type


def upgrade() -> None:
    op.create_table(
        "served_predictions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("version_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("timeframe", sa.String(), nullable=True),
        sa.Column("last_time", When, nullable=False),
        sa.Column("target_time", When, nullable=False),
        sa.Column("last_close", sa.Float(), nullable=False),
        sa.Column("predicted_return", sa.Float(), nullable=False),
        sa.Column("predicted_close", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.CheckConstraint("role IN ('champion', 'challenger')", name="ck_served_predictions_role"),
        sa.CheckConstraint("source IN ('request', 'follow')", name="ck_served_predictions_source"),
        sa.PrimaryKeyConstraint("id", name="pk_served_predictions"),
    )
    op.create_index("ix_served_predictions_symbol_target_time", "served_predictions", ["symbol", "target_time"])
    op.create_index("ix_served_predictions_version_id", "served_predictions", ["version_id"])


def downgrade() -> None:
    op.drop_table("served_predictions")
