"""Headline figures of each run's backtest (metadata.json's backtest.strategy and PSR) and the one-sided tests
of the forecast (Pesaran-Timmermann, Diebold-Mariano vs naive) as columns of training_runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: a migration must not change when the models do.
FLOATS = ("directional_pt_p_value", "dm_p_value_one_sided", "backtest_sharpe", "backtest_sharpe_ci_low",
          "backtest_sharpe_ci_high", "backtest_total_return", "backtest_max_drawdown", "backtest_fees_paid",
          "backtest_psr_vs_zero", "backtest_psr_vs_buy_and_hold", "backtest_buy_and_hold_sharpe",
          "backtest_threshold")
INTEGERS = ("backtest_n_trades",)


def upgrade() -> None:
    with op.batch_alter_table("training_runs") as batch:  # SQLite: batch mode (copies the table)
        for name in FLOATS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        for name in INTEGERS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_runs") as batch:
        for name in reversed(FLOATS + INTEGERS):
            batch.drop_column(name)
