"""The run-log tables (SQLAlchemy 2 declarative). Migrations in `migrations/versions` create them; a unit
test checks that the two agree. Columns are nullable and strings unbounded on purpose: a value we did not
foresee must never be the reason a result is not recorded."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

RUN_STATUSES = ("started", "completed", "failed", "interrupted")
FINISHED_STATUSES = ("failed", "interrupted")
ORIGINS = ("live", "sync")  # logged while training, or backfilled from a metadata.json

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (queryable, e.g. metadata->'evaluation_results'); JSON text elsewhere.
# none_as_null: a missing document is SQL NULL, not the JSON literal null.
JSONDoc = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite stores no zone, so naive values read back are UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONDoc, list[Any]: JSONDoc, datetime: UTCDateTime(),
                           str: String()}


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TrainingRun(Base):
    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[str | None]
    symbol: Mapped[str | None]
    timeframe: Mapped[str | None]
    architecture: Mapped[str | None]
    variant: Mapped[str | None]
    status: Mapped[str] = mapped_column(default="started")
    origin: Mapped[str] = mapped_column(default="live")
    error: Mapped[str | None] = mapped_column(Text)

    # Training parameters: all of them as JSON, the ones people filter and sort by as columns.
    params: Mapped[dict[str, Any] | None]
    epochs: Mapped[int | None]
    epochs_run: Mapped[int | None]
    batch_size: Mapped[int | None]
    sequence_length: Mapped[int | None]
    learning_rate: Mapped[float | None] = mapped_column(Float)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    device: Mapped[str | None]
    days: Mapped[float | None] = mapped_column(Float)

    data_source: Mapped[str | None] = mapped_column(Text)
    data_start: Mapped[datetime | None]
    data_end: Mapped[datetime | None]
    data_rows: Mapped[int | None] = mapped_column(BigInteger)
    data_gaps: Mapped[int | None]

    started_at: Mapped[datetime | None]  # None for runs backfilled from the registry
    finished_at: Mapped[datetime | None]
    training_time_s: Mapped[float | None] = mapped_column(Float)
    host: Mapped[str | None]
    atb_version: Mapped[str | None]
    git_commit: Mapped[str | None]
    model_dir: Mapped[str | None] = mapped_column(Text)

    # evaluation_results (DESIGN.md units: USDT, percent, seconds, milliseconds)
    test_rmse: Mapped[float | None] = mapped_column(Float)
    test_mae: Mapped[float | None] = mapped_column(Float)
    mape: Mapped[float | None] = mapped_column(Float)
    directional_accuracy: Mapped[float | None] = mapped_column(Float)
    directional_accuracy_ci_low: Mapped[float | None] = mapped_column(Float)
    directional_accuracy_ci_high: Mapped[float | None] = mapped_column(Float)
    directional_p_value: Mapped[float | None] = mapped_column(Float)
    naive_test_rmse: Mapped[float | None] = mapped_column(Float)
    naive_test_mae: Mapped[float | None] = mapped_column(Float)
    naive_mape: Mapped[float | None] = mapped_column(Float)
    rmse_skill_vs_naive: Mapped[float | None] = mapped_column(Float)
    dm_statistic: Mapped[float | None] = mapped_column(Float)
    dm_p_value: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    train_loss: Mapped[float | None] = mapped_column(Float)
    # the one-sided tests of the forecast (revision 0002)
    directional_pt_p_value: Mapped[float | None] = mapped_column(Float)
    dm_p_value_one_sided: Mapped[float | None] = mapped_column(Float)  # vs naive persistence, H1: lower loss
    # metadata.json's backtest: the strategy after costs (fractions of equity) and its Sharpe tests (revision 0002)
    backtest_sharpe: Mapped[float | None] = mapped_column(Float)
    backtest_sharpe_ci_low: Mapped[float | None] = mapped_column(Float)
    backtest_sharpe_ci_high: Mapped[float | None] = mapped_column(Float)
    backtest_total_return: Mapped[float | None] = mapped_column(Float)
    backtest_max_drawdown: Mapped[float | None] = mapped_column(Float)
    backtest_fees_paid: Mapped[float | None] = mapped_column(Float)
    backtest_psr_vs_zero: Mapped[float | None] = mapped_column(Float)
    backtest_psr_vs_buy_and_hold: Mapped[float | None] = mapped_column(Float)
    backtest_buy_and_hold_sharpe: Mapped[float | None] = mapped_column(Float)
    backtest_threshold: Mapped[float | None] = mapped_column(Float)
    backtest_n_trades: Mapped[int | None] = mapped_column(Integer)
    # performance and ONNX
    inference_ms_p50: Mapped[float | None] = mapped_column(Float)
    inference_ms_p95: Mapped[float | None] = mapped_column(Float)
    batch_throughput_per_s: Mapped[float | None] = mapped_column(Float)
    parameters: Mapped[int | None] = mapped_column(BigInteger)
    peak_rss_mb: Mapped[float | None] = mapped_column(Float)
    onnx_max_abs_diff: Mapped[float | None] = mapped_column(Float)

    # The whole metadata.json; the registry's copy stays the source of truth.
    run_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONDoc)

    epoch_rows: Mapped[list[TrainingEpoch]] = relationship(
        back_populates="run", order_by="TrainingEpoch.epoch", cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __table_args__ = (
        CheckConstraint(f"status IN ({_sql_list(RUN_STATUSES)})", name="status"),
        CheckConstraint(f"origin IN ({_sql_list(ORIGINS)})", name="origin"),
        Index(None, "symbol", "architecture"),
        Index(None, "version_id"),
        Index(None, "status"),
        Index(None, "started_at"),
    )


class TrainingEpoch(Base):
    __tablename__ = "training_epochs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("training_runs.id", ondelete="CASCADE"))
    epoch: Mapped[int]
    train_loss: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    lr: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float | None] = mapped_column(Float)

    run: Mapped[TrainingRun] = relationship(back_populates="epoch_rows")

    __table_args__ = (Index(None, "run_id", "epoch"),)


benchmark_run_training_runs = Table(
    "benchmark_run_training_runs",
    Base.metadata,
    Column("benchmark_run_id", ForeignKey("benchmark_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("training_run_id", ForeignKey("training_runs.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "training_run_id"),
)


class BenchmarkRun(Base):
    __tablename__ = "benchmark_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str]
    decision: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any] | None]
    results: Mapped[dict[str, Any] | None]
    # Every version the benchmark named, including those the database has no row for (yet).
    version_ids: Mapped[list[Any] | None]
    host: Mapped[str | None]
    atb_version: Mapped[str | None]
    git_commit: Mapped[str | None]

    training_runs: Mapped[list[TrainingRun]] = relationship(secondary=benchmark_run_training_runs)

    __table_args__ = (Index(None, "created_at"),)


PREDICTION_ROLES = ("champion", "challenger")
PREDICTION_SOURCES = ("request", "follow")  # answered to a client, or made by `atb serve --follow` at a bar close


class ServedPrediction(Base):
    """One forecast made by the prediction server (`atb serve`): the A/B log that `atb ab report` scores."""

    __tablename__ = "served_predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]  # when the forecast was made (the server's clock)
    symbol: Mapped[str]  # the registry folder: BTCUSDT, or BTCUSDT-SYNTHETIC
    version_id: Mapped[str]
    role: Mapped[str]
    answered: Mapped[bool] = mapped_column(Boolean)  # the forecast a client got back (not a shadow or follow one)
    source: Mapped[str]
    timeframe: Mapped[str | None]
    last_time: Mapped[datetime]  # open time of the newest candle the forecast saw
    target_time: Mapped[datetime]  # open time of the candle it forecasts
    last_close: Mapped[float] = mapped_column(Float)
    predicted_return: Mapped[float] = mapped_column(Float)  # log return, ln(predicted_close / last_close)
    predicted_close: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        CheckConstraint(f"role IN ({_sql_list(PREDICTION_ROLES)})", name="role"),
        CheckConstraint(f"source IN ({_sql_list(PREDICTION_SOURCES)})", name="source"),
        Index(None, "symbol", "target_time"),
        Index(None, "version_id"),
    )
