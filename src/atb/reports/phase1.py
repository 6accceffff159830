"""phase1_report.html: the benchmark's decision first, then the comparison table (the metric table's cells, as in
phase1_report.md), the trading section, per-fold and per-seed scores, each model's test forecasts against the
actual close and the naive forecast, equity and drawdown against buy-and-hold, the folds, every run and the
provenance."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from atb.backtest.run import run_backtest
from atb.benchmark.aggregate import Summary
from atb.benchmark.decision import Decision
from atb.benchmark.records import RunRecord
from atb.benchmark.report import (
    FOLD_COLUMNS,
    RUN_TEXT_COLUMNS,
    baseline_lines,
    comparison_cells,
    fold_cells,
    run_cells,
    settings_lines,
    summary_cells,
    table_notes,
    title,
    trading_cells,
)
from atb.errors import AtbError
from atb.evaluation.metric_table import COLUMNS
from atb.registry.predictions import PredictionTable, read_predictions
from atb.registry.store import read_metadata
from atb.reports import figures
from atb.reports.html import figure_html, provenance, render_page, table

log = logging.getLogger(__name__)
TEMPLATE = "phase1.html.j2"


def write_phase1_report(path: Path, results: dict, summary: Summary | None, decision: Decision | None,
                        records: list[RunRecord], per_fold: list[tuple[int, Summary]]) -> Path:
    settings, data = results["settings"], results["data"]
    synthetic = bool(data["synthetic"])
    tables = {"comparison": None, "trading": None}
    if summary is not None:
        tables["comparison"] = _comparison_table(summary.rows, summary_cells(summary))
        if summary.trading is not None:
            tables["trading"] = table(*trading_cells(summary.trading), left=("model",))
    first_runs = _first_runs(records)
    predictions = _predictions(first_runs)
    context = dict(
        settings_lines=settings_lines(results),
        smoke=settings["smoke_test"], days=settings["days"], epochs=settings["epochs"],
        decision=decision, decision_lines=decision.lines()[1:] if decision else [],
        error=results.get("error"), summary=summary, tables=tables,
        summary_line=_summary_line(summary) if summary else "",
        notes=table_notes(summary) if summary else [],
        baseline=baseline_lines(summary) if summary else [],
        trading_line=_trading_line(summary) if summary else "",
        per_fold=[(fold, s, _comparison_table(s.rows, summary_cells(s))) for fold, s in per_fold],
        per_seed=[(seed, _comparison_table(c.rows, comparison_cells(c)))
                  for seed, c in zip(summary.seeds, summary.per_seed, strict=True)]
        if summary is not None and len(summary.per_seed) > 1 else [],
        folds=table(FOLD_COLUMNS, fold_cells(results.get("folds", [])), left=FOLD_COLUMNS[1:])
        if results.get("folds") else None,
        runs=table(*run_cells(records), left=RUN_TEXT_COLUMNS),
        run_notes=list(results.get("notes") or []), doctor=_doctor(results.get("doctor")),
        charts=_charts(records, first_runs, predictions, settings, synthetic),
        provenance=provenance(
            data_source=data["source"] + (" (SYNTHETIC)" if synthetic else ""),
            data_range=_data_range(results, summary), last_candle=data.get("last_candle"),
            benchmark_created=results["created_at"], status=results["status"],
            device=data.get("device") or settings.get("device")),
    )
    return render_page(TEMPLATE, path, title=title(settings, synthetic), synthetic=synthetic, **context)


def _comparison_table(rows, cells: list[list[str]]) -> dict:
    return table(COLUMNS, cells, dim=[r.is_naive for r in rows])


def _summary_line(summary: Summary) -> str:
    seeds = len(summary.seeds)
    pooled = f"{len(summary.folds)} walk-forward folds" if len(summary.folds) > 1 else "one test split"
    spread = (f"mean ± std across {seeds} seeds ({', '.join(map(str, summary.seeds))})" if seeds > 1
              else f"seed {summary.seeds[0]}")
    return f"{summary.windows} test windows ({pooled}), {summary.start} .. {summary.end} UTC; {spread}."


def _trading_line(summary: Summary) -> str:
    t = summary.trading
    if t is None:
        return f"No backtest: {summary.trading_note or 'nothing to backtest'}."
    return (f"{t.bars} bars ({t.start} .. {t.end} UTC), the same for every model and benchmark: {t.mode}, fee "
            f"{t.fee_bps:g} + slippage {t.slippage_bps:g} bps per unit of position change; the no-trade threshold is "
            f"chosen on each run's validation predictions and frozen. Pooling: {t.pooling}.")


def _data_range(results: dict, summary: Summary | None) -> str | None:
    folds = [f for f in results.get("folds") or [] if f.get("train")]
    if not folds:
        return f"test {summary.start} .. {summary.end} UTC" if summary else None
    first, last = folds[0], folds[-1]
    end = (last.get("test") or last["train"])["end"]
    return f"target times {first['train']['start']} .. {end} (train start .. last test target)"


def _first_runs(records: list[RunRecord]) -> dict[str, list[RunRecord]]:
    """Per model, the runs of its first seed, folds in order (their test windows are disjoint and consecutive)."""
    out: dict[str, list[RunRecord]] = {}
    for r in records:
        if r.ok and r.version_dir:
            out.setdefault(r.label, []).append(r)
    for label, runs in out.items():
        seed = min(r.seed for r in runs)
        out[label] = sorted((r for r in runs if r.seed == seed), key=lambda r: r.fold)
    return out


def _predictions(first_runs: dict[str, list[RunRecord]]) -> dict[str, list[PredictionTable]]:
    out = {}
    for label, runs in first_runs.items():
        try:
            tables = []
            for r in runs:
                meta = read_metadata(Path(r.version_dir))
                tables.append(read_predictions(Path(r.version_dir), meta.artifacts.predictions))
            out[label] = tables
        except (AtbError, OSError, ValueError) as exc:  # a chart less; the tables still stand
            log.warning("phase1_report.html: no forecast chart for %s (%s)", label, exc)
    return out


def _charts(records, first_runs, predictions, settings: dict, synthetic: bool) -> dict:
    tag = " — SYNTHETIC" if synthetic else ""
    seed = {label: runs[0].seed for label, runs in first_runs.items()}
    charts = dict.fromkeys(("forecasts", "equity", "runs"))
    if predictions:
        series = [(label, pd.concat([t.test for t in tables], ignore_index=True))
                  for label, tables in predictions.items()]
        charts["forecasts"] = figure_html(figures.forecasts(
            series, f"Test window: forecast vs actual close vs naive (seed {min(seed.values())}, every fold){tag}"),
            height=480)
        curves, times = _equity_curves(predictions, settings["timeframe"])
        if curves:
            charts["equity"] = figure_html(figures.equity(
                times, curves, f"Equity and drawdown after costs, test window (long_flat, default costs, seed "
                f"{min(seed.values())}){tag}"), height=560)
    runs = [{"label": r.label, "seed": r.seed, "fold": r.fold, **r.metrics} for r in records if r.ok]
    if runs:
        charts["runs"] = figure_html(figures.run_scores(
            [{**r, "skill": None if r.get("rmse_skill_vs_naive") is None else 100 * r["rmse_skill_vs_naive"]}
             for r in runs], "skill", f"RMSE skill vs naive per seed and fold (%, positive = better than naive){tag}",
            "skill vs naive %"), height=380)
    return charts


def _equity_curves(predictions: dict[str, list[PredictionTable]], timeframe: str):
    """Each model's strategy (its first seed, folds in order, each fold's threshold from its validation rows) and
    buy-and-hold and momentum on the bars of the first model; only where all share the same bars."""
    curves, times = {}, None
    for label, tables in predictions.items():
        try:
            results = [run_backtest(t.test, t.validation, timeframe=timeframe) for t in tables]
        except AtbError as exc:  # a horizon other than 1: no trading chart
            log.info("phase1_report.html: no equity chart (%s)", exc)
            return {}, None
        bar_times = pd.DatetimeIndex(pd.concat([pd.Series(r.target_time) for r in results], ignore_index=True))
        if times is None:
            times = bar_times
            for name in ("buy_and_hold", "momentum"):
                curves[name] = _chain([getattr(r, name).path.net_returns for r in results])
        elif len(bar_times) != len(times) or not (bar_times == times).all():
            continue  # not on the same bars: not on the same chart
        curves[label] = _chain([r.strategy.path.net_returns for r in results])
    return curves, times


def _chain(returns: list) -> tuple:
    """Equity and drawdown of the folds' per-bar net returns, one after the other (each fold enters afresh)."""
    import numpy as np

    from atb.backtest.simulate import drawdown

    equity = np.cumprod(1 + np.concatenate(returns))
    return equity, drawdown(equity)


def _doctor(doctor: dict | None) -> dict | None:
    """`--doctor`: the checklist of `atb doctor --quick`, one row per check."""
    if not doctor:
        return None
    from atb.doctor.result import FAMILIES

    rows = [[c["status"], f"{FAMILIES[c['family']]}: {c['name']}", c["summary"]] for c in doctor["checks"]]
    return {"verdict": doctor["verdict"], "seconds": doctor["seconds"], "notes": doctor["notes"],
            "table": table(("status", "check", "figures"), rows, left=("status", "check", "figures"))}
