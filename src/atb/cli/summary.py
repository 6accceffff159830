"""Tables that present a trained model's metadata and a comparison of versions."""

from __future__ import annotations

from rich.console import Console

from atb.cli.tables import Col, print_table
from atb.ensemble import is_ensemble
from atb.evaluation.metric_table import (
    COMPARISON_COLUMNS,
    DASH,
    METRIC,
    TABLE_NOTES,
    TRADING_METRIC,
    Column,
    cells,
    columns,
    fmt_p,
)
from atb.registry.metadata import EnsembleInfo, VersionMetadata


def _dm_vs_naive(row) -> str:
    if row.is_naive:
        return DASH
    dm = row.value("dm_vs_naive") or {}
    return f"{dm.get('statistic'):+.2f} ({fmt_p(dm.get('p_value_one_sided'))})"


# `atb models show` and `atb train`: the comparison table's columns for one version and naive persistence.
_SUMMARY_COLUMNS = (
    Column("model", "model", lambda row: row.label),
    *columns("test_rmse", "test_mae", "mape", "directional_accuracy", "up_rates", "directional_pt_p_value"),
    Column("dm_vs_naive", "DM vs naive (p)", _dm_vs_naive),
)


def print_training_summary(console: Console, meta: VersionMetadata) -> None:
    """`atb train` and `atb models show`: the version and naive persistence on its test windows."""
    # pandas and scipy (through atb.evaluation.comparison): deferred for start-up time
    from atb.evaluation.comparison import SIGNIFICANCE, version_rows

    tp, ev = meta.training_params, meta.evaluation_results
    synthetic = " (SYNTHETIC market)" if meta.data.synthetic else ""
    title = (f"{meta.symbol} {tp.timeframe} · {tp.label} · test {meta.data.test.start[:16]} .. "
             f"{meta.data.test.end[:16]} ({ev.test_windows} windows){synthetic}")
    model, naive = version_rows(meta)
    skill = ev.rmse_skill_vs_naive * 100
    p_one = ev.dm_vs_naive.p_value_one_sided
    beats = skill > 0 and p_one is not None and p_one < SIGNIFICANCE
    verdict = "beats" if beats else ("is worse than" if skill < 0 else "does not significantly beat")
    excluded = ev.directional_excluded
    caption = [
        f"RMSE skill vs naive {METRIC['rmse_skill_vs_naive'].format(ev.rmse_skill_vs_naive)} ({tp.architecture} "
        f"{verdict} naive persistence; DM one-sided p, H1: lower loss; a negative statistic means smaller "
        "squared errors)",
        "dir. acc. over moves with a direction" + (f" ({excluded} flat moves left out)" if excluded else "")
        + "; up % fc/act: forecast and market up-rates; PT p: Pesaran-Timmermann, H1: better than those rates give",
        _fit_line(meta),
    ]
    if meta.backtest is not None:
        caption.append(backtest_line(meta.backtest))
    if ev.collapsed:
        caption.append(f"⚠ collapsed forecast: {ev.collapse_reason or ''}")
    print_table(console, _cols(_SUMMARY_COLUMNS), [cells(model, _SUMMARY_COLUMNS), cells(naive, _SUMMARY_COLUMNS)],
                title=title, caption="\n".join(caption), row_styles=[None, "dim"])


def _fit_line(meta: VersionMetadata) -> str:
    tp, perf = meta.training_params, meta.performance
    speed = (f"ONNX p50 {perf.inference_ms_p50:.3f} ms · {METRIC['parameters'].format(perf.parameters)} params · "
             f"parity {meta.onnx.max_abs_diff:.1e}")
    if not is_ensemble(tp.architecture):
        return f"fit {perf.training_time_s:.1f}s, {tp.epochs_run} epochs (best {tp.best_epoch}) · {speed}"
    ens = meta.ensemble or EnsembleInfo()
    return (f"ensemble of {len(ens.members or [])} members, {ens.method} weights fitted on {ens.fitted_on} · fit "
            f"{perf.training_time_s:.1f}s (members + combiner) · {speed}; model.onnx reproduces its predictions to "
            f"{_sci(ens.predictions_max_abs_diff)} (log return)")


def _sci(value: float | None) -> str:
    return DASH if value is None else f"{value:.1e}"


def print_ensemble(console: Console, meta: VersionMetadata) -> None:
    """`atb train ensemble`: each member's weight, validation MSE (what "best" is decided on) and test figures."""
    ens = meta.ensemble or EnsembleInfo()
    rows = []
    for m in ens.member_details:
        dm = m.dm_ensemble_vs_member
        rows.append([m.version_id or "?", f"{m.weight:+.4f}", f"{m.validation_mse:,.2f}",
                     METRIC["test_rmse"].format(m.test_rmse),
                     f"{dm.statistic:+.2f} ({fmt_p(dm.p_value_one_sided)})" if dm.statistic is not None else DASH,
                     "yes" if m.version_id == ens.best_member else ""])
    best = ens.dm_vs_best_member
    improvement = METRIC["rmse_improvement_pct"].format(ens.rmse_improvement_vs_best_member_pct)
    caption = [
        f"intercept {ens.intercept:+.6f} (log return) · fitted on: {ens.fitted_on} · best member: the lowest "
        "validation MSE (decided on validation)",
        f"vs the best member on test: RMSE {improvement}, one-sided DM p={fmt_p(best.p_value_one_sided)} (H1: the "
        "ensemble's loss is lower; DM column: the ensemble vs each member, negative = the ensemble's errors smaller)",
    ]
    print_table(console, [Col("member", "left"), Col("weight"), Col("val MSE"), Col("test RMSE"),
                          Col("DM ens vs member (p)"), Col("best", "left")], rows,
                title=f"{meta.version_id}: {ens.method} ensemble of {len(rows)} members", caption="\n".join(caption))


def print_ensembles(console: Console, built: list[tuple[str, VersionMetadata]]) -> None:
    """`atb train ensemble --from-benchmark`: one row per seed and fold."""
    if not built:
        return
    rows = []
    for title, meta in built:
        ens, ev = meta.ensemble or EnsembleInfo(), meta.evaluation_results
        rows.append([title, meta.version_id or "?", METRIC["test_rmse"].format(ev.test_rmse),
                     METRIC["rmse_skill_vs_naive"].format(ev.rmse_skill_vs_naive),
                     fmt_p(ev.dm_vs_naive.p_value_one_sided),
                     METRIC["rmse_improvement_pct"].format(ens.rmse_improvement_vs_best_member_pct),
                     fmt_p(ens.dm_vs_best_member.p_value_one_sided),
                     " ".join(f"{w:.2f}" for w in ens.weights or [])])
    print_table(console, [Col("run", "left"), Col("version", "left"), Col("RMSE"), Col("skill vs naive"),
                          Col("DM p vs naive"), Col("RMSE vs best member"), Col("DM p vs best"),
                          Col("weights", "left")], rows, key=2,
                title="Ensembles, one per seed and fold",
                caption="DM p: one-sided, H1: the ensemble's loss is lower; best member: lowest validation MSE")


def backtest_line(backtest: dict) -> str:
    """metadata.json's backtest in one line (`atb backtest SYMBOL` shows the whole table)."""
    if "strategy" not in backtest:
        return f"backtest: none ({backtest.get('skipped', 'not recorded')})"
    m, strategy, hold = TRADING_METRIC, backtest["strategy"], backtest["buy_and_hold"]
    sharpe = ("— (no trade: flat on every test bar)" if strategy["n_trades"] == 0 else
              f"{m['sharpe'].format(strategy['sharpe'])} {m['sharpe_ci95'].format(strategy['sharpe_ci95'])}")
    return (f"backtest ({backtest['mode']}, {backtest['fee_bps'] + backtest['slippage_bps']:g} bps per change, "
            f"threshold {backtest['threshold']:.5f} from {backtest['threshold_source']}): Sharpe {sharpe} vs "
            f"buy-and-hold {m['sharpe'].format(hold['sharpe'])}, PSR vs buy-and-hold "
            f"{m['psr_vs_buy_and_hold'].format(backtest['psr_vs_buy_and_hold'])}, {strategy['n_trades']} trades, fees "
            f"{m['fees_paid'].format(strategy['fees_paid'])} (after costs; the table: atb backtest)")


def print_comparison(console: Console, comp, title: str) -> None:
    """`atb models compare`: every version and naive persistence on the test windows they share."""
    print_table(console, _cols(COMPARISON_COLUMNS), [cells(r) for r in comp.rows],
                title=f"{title} · {comp.windows} test windows {comp.start} .. {comp.end}",
                row_styles=["dim" if r.is_naive else None for r in comp.rows])


def _cols(table: tuple[Column, ...]) -> list[Col]:
    """The metric table's columns as terminal columns: the model label (left, may wrap), figures right."""
    return [Col(c.header, "left", wrap=True) if c.key == "model" else Col(c.header) for c in table]


def comparison_lines(comp) -> list[str]:
    """The guide's "Comparison vs CNN-LSTM Baseline" block, with significance, and the naive verdict."""
    # pandas and scipy (through atb.evaluation.comparison): deferred for start-up time
    from atb.evaluation.comparison import SIGNIFICANCE, guide_verdict

    improvement = METRIC["rmse_improvement_pct"]
    lines = []
    if comp.baseline:
        lines += ["", f"Comparison vs {comp.baseline} baseline:", "-" * 50]
        for r in comp.rows:
            if r.is_baseline or r.is_naive:
                continue
            p = r.dm_vs_baseline.get("p_value_one_sided") if r.dm_vs_baseline else None
            lines += [f"{r.label}:", f"  RMSE Improvement: {improvement.format(r.rmse_improvement_pct)}",
                      f"  {guide_verdict(r.rmse_improvement_pct, p)}"]
    beats = [r.label for r in comp.rows if not r.is_naive and r.metrics["rmse_skill_vs_naive"] > 0
             and r.metrics["dm_vs_naive"].get("p_value_one_sided", 1.0) < SIGNIFICANCE]
    lines.append("")
    lines.append(
        f"Beats naive persistence (lower RMSE, one-sided DM p < {SIGNIFICANCE}): {', '.join(beats)}" if beats
        else f"No model beats naive persistence significantly (one-sided DM p < {SIGNIFICANCE}) on these windows."
    )
    lines += [f"Note: {n}" for n in (*TABLE_NOTES, *comp.notes)]
    return lines
