"""Run log: training runs, their epochs, benchmark runs and the link between them.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in atb.tracking.schema: a migration must not change when the models do.
JSONDoc = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
When = sa.DateTime(timezone=True)


def _floats(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.Float(), nullable=True) for name in names]


def upgrade() -> None:
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version_id", sa.String(), nullable=True),
        sa.Column("symbol", sa.String(), nullable=True),
        sa.Column("timeframe", sa.String(), nullable=True),
        sa.Column("architecture", sa.String(), nullable=True),
        sa.Column("variant", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("origin", sa.String(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("params", JSONDoc, nullable=True),
        sa.Column("epochs", sa.Integer(), nullable=True),
        sa.Column("epochs_run", sa.Integer(), nullable=True),
        sa.Column("batch_size", sa.Integer(), nullable=True),
        sa.Column("sequence_length", sa.Integer(), nullable=True),
        sa.Column("learning_rate", sa.Float(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("device", sa.String(), nullable=True),
        sa.Column("days", sa.Float(), nullable=True),
        sa.Column("data_source", sa.Text(), nullable=True),
        sa.Column("data_start", When, nullable=True),
        sa.Column("data_end", When, nullable=True),
        sa.Column("data_rows", sa.BigInteger(), nullable=True),
        sa.Column("data_gaps", sa.Integer(), nullable=True),
        sa.Column("started_at", When, nullable=True),
        sa.Column("finished_at", When, nullable=True),
        sa.Column("training_time_s", sa.Float(), nullable=True),
        sa.Column("host", sa.String(), nullable=True),
        sa.Column("atb_version", sa.String(), nullable=True),
        sa.Column("git_commit", sa.String(), nullable=True),
        sa.Column("model_dir", sa.Text(), nullable=True),
        *_floats("test_rmse", "test_mae", "mape", "directional_accuracy", "directional_accuracy_ci_low",
                 "directional_accuracy_ci_high", "directional_p_value", "naive_test_rmse", "naive_test_mae",
                 "naive_mape", "rmse_skill_vs_naive", "dm_statistic", "dm_p_value", "val_loss", "train_loss",
                 "inference_ms_p50", "inference_ms_p95", "batch_throughput_per_s"),
        sa.Column("parameters", sa.BigInteger(), nullable=True),
        *_floats("peak_rss_mb", "onnx_max_abs_diff"),
        sa.Column("metadata", JSONDoc, nullable=True),
        sa.CheckConstraint("status IN ('started', 'completed', 'failed', 'interrupted')",
                           name="ck_training_runs_status"),
        sa.CheckConstraint("origin IN ('live', 'sync')", name="ck_training_runs_origin"),
        sa.PrimaryKeyConstraint("id", name="pk_training_runs"),
    )
    op.create_index("ix_training_runs_symbol_architecture", "training_runs", ["symbol", "architecture"])
    op.create_index("ix_training_runs_version_id", "training_runs", ["version_id"])
    op.create_index("ix_training_runs_status", "training_runs", ["status"])
    op.create_index("ix_training_runs_started_at", "training_runs", ["started_at"])

    op.create_table(
        "training_epochs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        *_floats("train_loss", "val_loss", "lr", "seconds"),
        sa.ForeignKeyConstraint(["run_id"], ["training_runs.id"], ondelete="CASCADE",
                                name="fk_training_epochs_run_id_training_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_training_epochs"),
    )
    op.create_index("ix_training_epochs_run_id_epoch", "training_epochs", ["run_id", "epoch"])

    op.create_table(
        "benchmark_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("settings", JSONDoc, nullable=True),
        sa.Column("results", JSONDoc, nullable=True),
        sa.Column("version_ids", JSONDoc, nullable=True),
        sa.Column("host", sa.String(), nullable=True),
        sa.Column("atb_version", sa.String(), nullable=True),
        sa.Column("git_commit", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_benchmark_runs"),
    )
    op.create_index("ix_benchmark_runs_created_at", "benchmark_runs", ["created_at"])

    op.create_table(
        "benchmark_run_training_runs",
        sa.Column("benchmark_run_id", sa.Integer(), nullable=False),
        sa.Column("training_run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["benchmark_run_id"], ["benchmark_runs.id"], ondelete="CASCADE",
                                name="fk_benchmark_run_training_runs_benchmark_run_id_benchmark_runs"),
        sa.ForeignKeyConstraint(["training_run_id"], ["training_runs.id"], ondelete="CASCADE",
                                name="fk_benchmark_run_training_runs_training_run_id_training_runs"),
        sa.PrimaryKeyConstraint("benchmark_run_id", "training_run_id", name="pk_benchmark_run_training_runs"),
    )
    op.create_index("ix_benchmark_run_training_runs_training_run_id", "benchmark_run_training_runs",
                    ["training_run_id"])


def downgrade() -> None:
    op.drop_table("benchmark_run_training_runs")
    op.drop_table("benchmark_runs")
    op.drop_table("training_epochs")
    op.drop_table("training_runs")
