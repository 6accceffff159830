"""`atb backtest --html FILE`: the strategy against buy-and-hold, momentum and cash after costs, as a page: the
verdict lines first, the trading metrics table (the metric table's formats), equity and drawdown, the test
forecasts against the actual close and the naive forecast, the threshold choice and the provenance."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from atb.backtest.result import STRATEGIES, BacktestResult
from atb.evaluation.metric_table import TRADING_METRIC
from atb.reports import figures
from atb.reports.html import figure_html, provenance, render_page, table

TEMPLATE = "backtest.html.j2"


def verdict(result: BacktestResult) -> str:
    """The headline: does the strategy beat buy-and-hold after costs? (PSR vs buy-and-hold, its Sharpe vs
    buy-and-hold's)."""
    sharpe, psr = TRADING_METRIC["sharpe"], TRADING_METRIC["psr_vs_buy_and_hold"]
    s, h = result.strategy.metrics.sharpe, result.buy_and_hold.metrics.sharpe
    p = result.psr_vs_buy_and_hold
    known = p == p and p is not None
    word = "n/a (no Sharpe ratio)" if not known else ("yes" if p > 0.95 else "no")
    return (f"Beats buy-and-hold after costs: {word} — Sharpe {sharpe.format(_f(s))} vs {sharpe.format(_f(h))}, "
            f"{psr.header} {psr.format(_f(p))} (yes needs > 0.95)")


def write_backtest_report(path: Path, result: BacktestResult, *, title: str, subtitle: str, headers: list[str],
                          rows: list[list[str]], lines: list[str], test: pd.DataFrame | None = None,
                          synthetic: bool = False, facts: dict | None = None) -> Path:
    tag = " — SYNTHETIC" if synthetic else ""
    curves = {name: (getattr(result, name).equity, getattr(result, name).drawdown) for name in STRATEGIES}
    charts = [figure_html(figures.equity(result.target_time, curves, f"Equity and drawdown after costs{tag}"),
                          height=560)]
    if test is not None and len(test):
        charts.append(figure_html(figures.forecasts([("model", test)], f"Test forecasts vs actual close vs naive"
                                                                        f"{tag}"), height=440))
    if result.threshold_grid:
        charts.append(figure_html(figures.threshold_grid(result.threshold_grid, result.threshold,
                                                         f"No-trade threshold chosen on validation{tag}"), height=360))
    return render_page(TEMPLATE, path, title=f"Backtest: {title}{' (SYNTHETIC)' if synthetic else ''}",
                       synthetic=synthetic, subtitle=subtitle, headline=verdict(result), lines=lines,
                       metrics=table(headers, rows, left=(headers[0],)), charts=charts,
                       provenance=provenance(**(facts or {})))


def _f(value):
    return None if value is None or value != value or abs(value) == float("inf") else value
