"""`atb backtest SYMBOL`: does acting on a version's test forecasts make money after costs? The strategy against
buy-and-hold, momentum and cash on the same bars, from predictions.parquet and metadata.json only (no torch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from atb.backtest.protocol import DEFAULT_FEE_BPS, DEFAULT_MODE, DEFAULT_SLIPPAGE_BPS, MODES
from atb.cli import options as opt
from atb.cli.console import out
from atb.cli.options import check_html_path
from atb.config import models_dir as default_dir
from atb.errors import UsageError
from atb.evaluation.metric_table import TRADING_METRIC, TRADING_METRICS
from atb.registry.store import ModelStore, read_metadata

STRATEGIES = (("strategy", "strategy"), ("buy_and_hold", "buy & hold"), ("momentum", "momentum"), ("cash", "cash"))
# Rows of the table: every trading metric but the drawdown's length and the turnover (both in --json).
TABLE_METRICS = tuple(m.key for m in TRADING_METRICS if m.key not in ("max_drawdown_bars", "turnover"))
THRESHOLD_WHY = {
    "validation": "chosen on the validation predictions, frozen for test",
    "flag": "given by --threshold",
    "default": "0: this version stores no validation predictions (trained before they were kept)",
}

Mode = Annotated[str, typer.Option("--mode", help=f"{' or '.join(MODES)}: long or flat; long_short also goes "
                                                  "short below -threshold.")]
FeeBps = Annotated[float, typer.Option("--fee-bps", help="Fee per unit of position change, in basis points "
                                                         "(the default: Binance spot taker).")]
SlippageBps = Annotated[float, typer.Option("--slippage-bps", help="Slippage per unit of position change, in "
                                                                   "basis points.")]
Threshold = Annotated[float | None, typer.Option(
    "--threshold", help="No-trade threshold on the forecast log return (default: chosen on the validation "
                        "predictions).")]
PlotFile = Annotated[Path | None, typer.Option("--plot", help="Write the equity and drawdown chart (PNG) here.")]


def backtest(
    symbol: str = typer.Argument(..., help="Market symbol, e.g. BTCUSDT (BTCUSDT-SYNTHETIC for synthetic runs)."),
    version: opt.Version = None,
    mode: Mode = DEFAULT_MODE,
    fee_bps: FeeBps = DEFAULT_FEE_BPS,
    slippage_bps: SlippageBps = DEFAULT_SLIPPAGE_BPS,
    threshold: Threshold = None,
    models_dir: opt.ModelsDir = None,
    as_json: opt.Json = False,
    plot: PlotFile = None,
    html: opt.Html = None,
) -> None:
    """Backtest a version's test forecasts after fees against buy-and-hold, momentum and cash (horizon 1)."""
    # numpy, pandas and scipy: deferred for start-up time
    from atb.backtest import check_horizon, check_mode, cost_per_unit, run_backtest
    from atb.registry.predictions import read_predictions

    check_mode(mode)  # bad arguments first, before anything is read
    cost_per_unit(fee_bps, slippage_bps)
    if plot is not None and plot.suffix.lower() != ".png":
        raise UsageError(f"--plot {plot}: the chart is a PNG file; name it *.png")
    check_html_path(html)
    path = ModelStore(models_dir or default_dir()).resolve(symbol.upper(), version)
    meta = read_metadata(path)
    tp = meta.training_params
    try:
        check_horizon(tp.bars_ahead)
    except UsageError as exc:
        raise UsageError(f"{path.name}: {exc}") from None
    table = read_predictions(path, meta.artifacts.predictions)
    trials = meta.search_trials()
    result = run_backtest(table.test, table.validation, horizon=tp.bars_ahead, timeframe=tp.timeframe or "1h",
                          mode=mode, fee_bps=fee_bps, slippage_bps=slippage_bps, threshold=threshold,
                          n_trials=trials[0] if trials else None, trial_sharpe_var=trials[1] if trials else None)
    start, end = (f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in (result.target_time[0], result.target_time[-1]))
    title = f"{symbol.upper()} {tp.timeframe} · {tp.label} · {path.name}"
    if plot is not None:
        from atb.backtest.plot import plot_backtest  # matplotlib: only when a chart is asked for

        plot_backtest(result, plot, f"{title}\n{_costs(result)}, test {start[:16]} .. {end[:16]} UTC")
    if html is not None:
        from atb.reports.backtest import write_backtest_report  # plotly and jinja2: only when a report is asked for

        write_backtest_report(
            html, result, title=title, subtitle=f"test {start[:16]} .. {end[:16]} UTC, {result.n_bars:,} bars · "
            f"{_costs(result)}", headers=["after costs", *(h for _, h in STRATEGIES)], rows=table_cells(result),
            lines=_lines(result, trials), test=table.test, synthetic=bool(meta.synthetic),
            facts={"version": str(path), "data_source": meta.data.source, "test_window": f"{start} .. {end}",
                   "trained_on": f"{tp.start} .. {tp.end}" if tp.start else None})
    if as_json:
        doc = {"symbol": meta.symbol, "version": path.name, "timeframe": tp.timeframe, "test_start": start,
               "test_end": end, **result.to_dict(), "plot": str(plot) if plot else None,
               "html": str(html) if html else None}
        print(json.dumps(doc, indent=2))
        return
    synthetic = " [bold yellow](SYNTHETIC market)[/bold yellow]" if meta.synthetic else ""
    out.print(f"[bold]{title}[/bold]{synthetic}", highlight=False)
    out.print(f"test {start[:16]} .. {end[:16]} UTC, {result.n_bars:,} bars · {_costs(result)}", highlight=False)
    out.print(_table(result))
    for line in _lines(result, trials):
        out.print(line, highlight=False)
    if plot is not None:
        out.print(f"[green]✓[/green] chart: {plot}", highlight=False)
    if html is not None:
        out.print(f"[green]✓[/green] report: {html}", highlight=False)


def _costs(result) -> str:
    return (f"{result.mode}, fee {result.fee_bps:g} + slippage {result.slippage_bps:g} bps per unit of position "
            "change")


def _table(result) -> Table:
    # Metrics as rows, the four strategies as columns: fits 80 columns; numbers are never wrapped or cut.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), collapse_padding=True,
                  header_style="bold")
    table.add_column("after costs", overflow="fold")  # a label may wrap; a number never
    for _, header in STRATEGIES:
        table.add_column(header, justify="right", no_wrap=True)
    for row in table_cells(result):
        table.add_row(*row)
    return table


def table_cells(result) -> list[list[str]]:
    """One row per trading metric (its header, then the four strategies' values), formatted by the metric table."""
    rows = []
    for key in TABLE_METRICS:
        metric = TRADING_METRIC[key]
        values = [getattr(getattr(result, name).metrics, key) for name, _ in STRATEGIES]
        rows.append([metric.header, *(metric.format(_finite(v)) for v in values)])
    return rows


def _finite(value):
    """NaN/inf as None (shown as a dash); an interval as a list."""
    if isinstance(value, tuple):
        return [_finite(v) for v in value]
    return None if isinstance(value, float) and not (value == value and abs(value) != float("inf")) else value


def _lines(result, trials: tuple[int, float] | None) -> list[str]:
    psr = TRADING_METRIC["psr_vs_zero"]
    psr_hold = TRADING_METRIC["psr_vs_buy_and_hold"]
    dsr = TRADING_METRIC["dsr"]
    lines = [
        f"threshold {result.threshold:.6f} ({result.threshold_source}: {THRESHOLD_WHY[result.threshold_source]})",
        f"{psr.header}: {psr.format(_finite(result.psr_vs_zero))} · {psr_hold.header}: "
        f"{psr_hold.format(_finite(result.psr_vs_buy_and_hold))} (the probability that the strategy's true Sharpe "
        "exceeds 0 / buy-and-hold's observed Sharpe; Bailey & López de Prado)",
        f"{dsr.header}: " + (f"{dsr.format(_finite(result.dsr))} (a search over {trials[0]} configurations, "
                             f"variance of their Sharpe ratios {trials[1]:.3g})" if trials else
                             "n/a (metadata.json records no search: tuning.n_trials, tuning.trial_sharpe_var)"),
        "Sharpe annualised (risk-free 0), its 95% interval from the Mertens/Opdyke standard error; returns, "
        "drawdown and fees as fractions of equity; trades: bars whose position changed.",
    ]
    return lines
