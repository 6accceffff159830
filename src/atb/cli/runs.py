"""`atb runs ...`: the training runs recorded in the run-log database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from atb.cli import options as opt
from atb.cli.console import out
from atb.cli.tables import Col, print_table
from atb.data.sources import source_kind
from atb.errors import AtbError, UsageError
from atb.evaluation.metric_table import METRIC
from atb.jsonio import dumps

app = typer.Typer(help="Training runs recorded in the run-log database (newest first).", no_args_is_help=True)

STATUSES = ("started", "completed", "failed", "interrupted")
# The run-log columns `atb runs list` shows (named as the metrics).
RUN_METRICS = ("test_rmse", "mape", "directional_accuracy", "rmse_skill_vs_naive", "training_time_s")
# `atb runs list --trading`: the backtest's headline figures instead (the strategy after costs, PSR vs buy-and-hold)
TRADING_RUN_METRICS = ("backtest_sharpe", "backtest_psr_vs_buy_and_hold", "backtest_n_trades", "backtest_fees_paid")
_STATUS_STYLE = {"completed": "green", "failed": "red", "interrupted": "yellow", "started": "cyan"}


@app.command("list")
def list_runs(
    symbol: str | None = typer.Option(None, "--symbol", "-s", help="Only this symbol, e.g. BTCUSDT."),
    architecture: opt.ArchitectureFilter = None,
    status: str | None = typer.Option(None, "--status", help=f"Only runs in this state: {', '.join(STATUSES)}."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="At most this many runs."),
    trading: bool = typer.Option(False, "--trading", help="Show the backtest's figures (Sharpe after costs, PSR "
                                                          "vs buy-and-hold, trades, fees) instead of the errors."),
    as_json: opt.Json = False,
) -> None:
    """List training runs, newest first."""
    # sqlalchemy: deferred for start-up time
    from atb.tracking.engine import get_engine, run_log_exists
    from atb.tracking.queries import list_runs as query
    from atb.tracking.settings import database_url

    if status is not None and status.lower() not in STATUSES:
        raise UsageError(f"--status must be one of {', '.join(STATUSES)}, not {status!r}")
    exists = run_log_exists(database_url())  # a read-only command creates no database
    runs = query(get_engine(), symbol=symbol, architecture=architecture, status=status, limit=limit) if exists else []
    if as_json:
        _print_json(runs)
        return
    if not runs:
        out.print("no training runs recorded" + (" that match" if symbol or architecture or status else ""),
                  highlight=False)
        return
    _print_runs(runs, TRADING_RUN_METRICS if trading else RUN_METRICS)


@app.command("show")
def show(
    run_id: int = typer.Argument(..., metavar="ID", help="Run id, from `atb runs list`."),
    as_json: opt.Json = False,
) -> None:
    """Show one run: parameters, data, metrics and the epoch history."""
    # sqlalchemy: deferred for start-up time
    from atb.tracking.engine import get_engine, run_log_exists
    from atb.tracking.queries import get_run
    from atb.tracking.settings import database_url

    run = get_run(get_engine(), run_id) if run_log_exists(database_url()) else None
    if run is None:
        raise AtbError(f"no training run with id {run_id} (see `atb runs list`)")
    if as_json:
        _print_json(run)
        return
    _print_run(run)


def _print_json(value: Any) -> None:
    # plain print: rich would wrap long lines and break `| jq`
    print(dumps(value))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _num(value: float | int | None, spec: str = ",.6g") -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else format(value, spec)


def _status(run: dict[str, Any]) -> str:
    status = run["status"]
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _print_runs(runs: list[dict[str, Any]], shown: tuple[str, ...] = RUN_METRICS) -> None:
    """One row per run; in a narrow terminal the columns that do not fit follow in a second table, the run id
    repeated: no figure and no version id is ever cut."""
    metrics = [METRIC[key] for key in shown]
    cols = [Col("ID"), Col("Started", "left", wrap=True), Col("Symbol", "left", wrap=True),
            Col("Model", "left", wrap=True), Col("Status", "left"), Col("Data", "left"), Col("Ep"),
            *[Col(m.short_header) for m in metrics], Col("Version", "left")]
    rows, styles = [], []
    for run in runs:
        started = _when(run["started_at"]) if run["started_at"] else f"{_when(run['finished_at'])}*"
        rows.append([str(run["id"]), started, " ".join(filter(None, [run["symbol"], run["timeframe"]])) or "-",
                     "/".join(filter(None, [run["architecture"], run["variant"]])) or "-", run["status"],
                     source_kind(run["data_source"]), f"{run['epochs_run'] or '-'}/{run['epochs'] or '-'}",
                     *("-" if run[m.key] is None else m.format(run[m.key]) for m in metrics),
                     run["version_id"] or "-"])
        styles.append(_STATUS_STYLE.get(run["status"]) if run["status"] != "completed" else None)
    notes = ["times UTC; " + ("Sharpe, trades, fees: the backtest's strategy after costs (test split); PSR: "
                              "P(its Sharpe > buy-and-hold's)" if shown == TRADING_RUN_METRICS else
                              "Skill: RMSE skill vs naive persistence") + "; Data: exchange, cache, file or "
             "synthetic; details: atb runs show ID"]
    if any(not run["started_at"] for run in runs):
        notes.append("* backfilled by `atb db sync`: the time the model was saved")
    print_table(out, cols, rows, caption="\n".join(notes), row_styles=styles)


_SECTIONS: list[tuple[str, list[str]]] = [
    ("run", ["version_id", "symbol", "timeframe", "architecture", "variant", "status", "origin", "error",
             "started_at", "finished_at", "training_time_s", "host", "atb_version", "git_commit", "model_dir"]),
    ("training", ["epochs", "epochs_run", "batch_size", "sequence_length", "learning_rate", "seed", "device",
                  "days"]),
    ("data", ["data_source", "data_start", "data_end", "data_rows", "data_gaps"]),
    ("test metrics", ["test_rmse", "test_mae", "mape", "directional_accuracy", "directional_accuracy_ci_low",
                      "directional_accuracy_ci_high", "directional_p_value", "naive_test_rmse",
                      "naive_test_mae", "naive_mape", "rmse_skill_vs_naive", "dm_statistic", "dm_p_value",
                      "dm_p_value_one_sided", "directional_pt_p_value", "val_loss", "train_loss"]),
    ("backtest", ["backtest_sharpe", "backtest_sharpe_ci_low", "backtest_sharpe_ci_high", "backtest_total_return",
                  "backtest_max_drawdown", "backtest_n_trades", "backtest_fees_paid", "backtest_psr_vs_zero",
                  "backtest_psr_vs_buy_and_hold", "backtest_buy_and_hold_sharpe", "backtest_threshold"]),
    ("performance", ["inference_ms_p50", "inference_ms_p95", "batch_throughput_per_s", "parameters",
                     "peak_rss_mb", "onnx_max_abs_diff"]),
]


def _print_run(run: dict[str, Any]) -> None:
    details = Table(show_header=False, box=None, pad_edge=False, title=f"training run {run['id']}",
                    title_justify="left", title_style="bold")
    details.add_column(style="dim")
    details.add_column(overflow="fold")
    for section, names in _SECTIONS:
        shown = [(name, run.get(name)) for name in names if run.get(name) is not None]
        if not shown:
            continue
        details.add_row(f"[bold]{section}[/]", "")
        for name, value in shown:
            text = _when(value) if isinstance(value, datetime) else (
                _num(value) if isinstance(value, (int, float)) else str(value))
            details.add_row(f"  {name}", _status(run) if name == "status" else escape(text))
    if run.get("benchmark_ids"):
        details.add_row("[bold]benchmarks[/]", ", ".join(map(str, run["benchmark_ids"])))
    out.print(details)

    history = run.get("epochs_history") or []
    if not history:
        out.print("no epochs recorded", highlight=False)
        return
    epochs = Table(header_style="bold", title="epochs", title_justify="left", title_style="bold", pad_edge=False)
    for header in ("epoch", "train_loss", "val_loss", "lr", "seconds"):
        epochs.add_column(header, justify="right")
    for row in history:
        epochs.add_row(str(row["epoch"]), _num(row["train_loss"]), _num(row["val_loss"]),
                       _num(row["lr"]), _num(row["seconds"], ",.2f"))
    out.print(epochs)
