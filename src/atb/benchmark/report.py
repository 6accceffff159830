"""phase1_report.md: the comparison table (the columns of `atb models compare`), the guide's comparison vs
the baseline with significance, the decision, per-fold and per-seed detail, and every run."""

from __future__ import annotations

from atb.benchmark.aggregate import Summary
from atb.benchmark.decision import ECONOMIC_PSR, Decision
from atb.benchmark.records import RunRecord
from atb.ensemble import DEFAULT_METHOD
from atb.evaluation.comparison import Comparison, guide_verdict
from atb.evaluation.metric_table import COLUMNS, DASH, METRIC, TABLE_NOTES, TRADING_METRIC, cells

RUN_METRICS = ("test_rmse", "rmse_skill_vs_naive", "training_time_s")  # the report's list of every run
# The trading section's columns after the Sharpe (metric keys of evaluation.metric_table.TRADING_METRIC)
TRADING_COLUMNS = ("psr_vs_zero", "psr_vs_buy_and_hold", "total_return", "max_drawdown", "n_trades", "fees_paid",
                   "exposure_pct", "hit_rate")
RUN_TEXT_COLUMNS = ("model", "status", "version / error")
FOLD_COLUMNS = ("fold", "test interval (planned)", "train", "validation", "test")


def summary_cells(summary: Summary) -> list[list[str]]:
    """One list of cells per row, in COLUMNS order: mean ± std across seeds, DM p on the pooled windows."""
    return [cells(r) for r in summary.rows]


def comparison_cells(comp: Comparison) -> list[list[str]]:
    """The same columns for one Comparison (a single seed), as `atb models compare` prints them."""
    return [cells(r) for r in comp.rows]


def markdown_table(columns: tuple[str, ...] | list[str], rows: list[list[str]],
                   left: tuple[str, ...] = ("model",)) -> str:
    """Numbers right-aligned, the ``left`` columns (text) left-aligned."""

    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    align = ["---" if col in left else "---:" for col in columns]
    return "\n".join([line(columns), "| " + " | ".join(align) + " |", *map(line, rows)])


def baseline_lines(summary: Summary) -> list[str]:
    """The guide's "Comparison vs CNN-LSTM Baseline" block, with the DM test it leaves out."""
    if not summary.baseline:
        return ["No CNN-LSTM baseline result: improvements vs the baseline are not computed."]
    out = [f"Comparison vs {summary.baseline} baseline:"]
    for r in summary.rows:
        if r.is_baseline or r.is_naive:
            continue
        imp = r.value("rmse_improvement_pct")
        p = r.dm_vs_baseline["p_value_one_sided"] if r.dm_vs_baseline else None
        seeds = r.seed_values.get("rmse_improvement_pct") or []
        every = "" if len(seeds) < 2 else (
            f" · better in {sum(v is not None and v > 0 for v in seeds)} of {len(seeds)} seeds")
        verdict = "—" if imp is None else guide_verdict(imp, p)
        improvement = METRIC["rmse_improvement_pct"].format(imp, r.spread("rmse_improvement_pct"))
        out.append(f"- **{r.label}**: RMSE improvement {improvement}{every} · {verdict}")
    return out


def title(settings: dict, synthetic: bool) -> str:
    kind = "Phase 1A quick validation (SMOKE TEST)" if settings["smoke_test"] else "Phase 1B benchmark"
    data = " — SYNTHETIC data" if synthetic else ""
    return f"{kind}: {settings['symbol']} {settings['timeframe']}{data}"


def render(results: dict, summary: Summary | None, decision: Decision | None, records: list[RunRecord],
           per_fold: list[tuple[int, Summary]], plot_name: str | None) -> str:
    settings = results["settings"]
    synthetic = results["data"]["synthetic"]
    out = [f"# {title(settings, synthetic)}", ""]
    if synthetic:
        out += ["> **SYNTHETIC market** (seeded AR-GARCH process): these numbers say nothing about real prices.", ""]
    if settings["smoke_test"]:
        out += [f"> **Smoke test** ({settings['days']:g} days, {settings['epochs']} epochs): it checks that every "
                "model trains, exports and evaluates. The metrics are not evidence for the decision; run `--full`.",
                ""]
    out += _settings_block(results)
    if summary is None:
        why = f"No summary: {results['error']}." if results.get("error") else \
            "No run completed: there is nothing to compare."
        out += ["## Results", "", why, ""]
    else:
        seeds = len(summary.seeds)
        pooled = f"{len(summary.folds)} walk-forward folds" if len(summary.folds) > 1 else "one test split"
        out += ["## Results", "",
                f"{summary.windows} test windows ({pooled}), {summary.start} .. {summary.end} UTC; "
                + (f"mean ± std across {seeds} seeds ({', '.join(map(str, summary.seeds))})." if seeds > 1
                   else f"seed {summary.seeds[0]}."), "",
                markdown_table(COLUMNS, summary_cells(summary)), "", *_table_notes(summary), "",
                *baseline_lines(summary), ""]
    if summary is not None:
        out += trading_lines(summary)
    if decision is not None:
        out += ["## Decision", "", f"**{decision.headline}**", ""]
        out += [_md_line(line) for line in decision.lines()[1:]] + [""]
    out += doctor_lines(results.get("doctor"))
    if plot_name:
        out += [f"![Phase 1 comparison]({plot_name})", ""]
    out += fold_lines(results.get("folds", []))
    for fold, fold_summary in per_fold:
        out += [f"### Fold {fold} of {len(per_fold)} ({fold_summary.start} .. {fold_summary.end} UTC, "
                f"{fold_summary.windows} windows)", "", markdown_table(COLUMNS, summary_cells(fold_summary)), ""]
    if summary is not None and len(summary.per_seed) > 1:
        out += ["## Per seed", ""]
        for seed, comp in zip(summary.seeds, summary.per_seed, strict=True):
            out += [f"### Seed {seed}", "", markdown_table(COLUMNS, comparison_cells(comp)), ""]
    out += ["## Runs", "", markdown_table(*run_cells(records), left=RUN_TEXT_COLUMNS), ""]
    return "\n".join(out)


def _epochs(record: RunRecord) -> str:
    epochs = record.metrics.get("epochs_run")
    return DASH if epochs is None else str(epochs)  # an ensemble runs no epochs


def trading_lines(summary: Summary) -> list[str]:
    """The trading section: each model's strategy after costs vs buy-and-hold, momentum and cash, same bars."""
    trading = summary.trading
    if trading is None:
        return ["## Trading (after costs)", "", f"No backtest: {summary.trading_note or 'nothing to backtest'}.", ""]
    headers, rows = trading_cells(trading)
    thresholds = "; ".join(f"{label} {_range(values)}" for label, values in trading.thresholds.items())
    source = ("chosen on each run's validation predictions and frozen" if trading.threshold_sources == ["validation"]
              else f"sources: {', '.join(trading.threshold_sources)} (default: 0, a version without validation "
                   "predictions)")
    return [
        "## Trading (after costs)", "",
        f"{trading.bars} bars ({trading.start} .. {trading.end} UTC), the same for every model and benchmark: "
        f"{trading.mode}, fee {trading.fee_bps:g} + slippage {trading.slippage_bps:g} bps per unit of position "
        f"change; the no-trade threshold is {source} ({thresholds}).", "",
        markdown_table(headers, rows), "",
        f"- Pooling: {trading.pooling}.",
        "- PSR: the probability that the strategy's true Sharpe exceeds 0 / buy-and-hold's observed Sharpe (Bailey & "
        "López de Prado); the Sharpe's 95% interval: Mertens/Opdyke standard error. Returns, drawdown and fees: "
        "fractions of equity; trades: bars whose position changed.",
        f"- \"Beats buy-and-hold after costs\" needs PSR vs buy-and-hold > {ECONOMIC_PSR} and a Sharpe above "
        "buy-and-hold's in every seed (see the decision).", "",
    ]


def trading_cells(trading) -> tuple[list[str], list[list[str]]]:
    """The trading section's headers and rows (models, then the benchmarks), formatted by the metric table."""
    headers = ["model", "Sharpe [95% CI]", *(TRADING_METRIC[k].header for k in TRADING_COLUMNS)]
    rows = [[r.label, _sharpe_cell(r), *(TRADING_METRIC[k].format(r.value(k), r.spread(k)) for k in TRADING_COLUMNS)]
            for r in trading.rows]
    return headers, rows


def run_cells(records: list[RunRecord]) -> tuple[list[str], list[list[str]]]:
    """The list of every run: headers and rows."""
    shown = [METRIC[k] for k in RUN_METRICS]
    headers = ["#", "model", "seed", "fold", "status", *(m.header for m in shown), "epochs", "version / error"]
    rows = [[str(r.index), r.label, str(r.seed), str(r.fold), r.status,
             *(m.format(r.metrics.get(m.key)) for m in shown), _epochs(r), r.version_id or (r.error or "")]
            for r in records]
    return headers, rows


def _sharpe_cell(row) -> str:
    if row.sharpe is None:
        return DASH
    return f"{TRADING_METRIC['sharpe'].format(row.sharpe)} {TRADING_METRIC['sharpe_ci95'].format(row.sharpe_ci95)}"


def _range(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.5f}" if low == high else f"{low:.5f}..{high:.5f}"


def doctor_lines(doctor: dict | None) -> list[str]:
    """`--doctor`: the checklist of `atb doctor --quick`, one row per check."""
    if not doctor:
        return []
    from atb.doctor.result import FAMILIES

    rows = [[c["status"], f"{FAMILIES[c['family']]}: {c['name']}", c["summary"]] for c in doctor["checks"]]
    return ["## Doctor: no signal, or a bug?", "", f"`atb doctor --quick` ({doctor['seconds']:.0f} s): "
            f"**{doctor['verdict']}**", "",
            markdown_table(("status", "check", "figures"), rows, left=("status", "check", "figures")), "",
            *[f"- {note}" for note in doctor["notes"]], ""]


def fold_lines(folds: list[dict]) -> list[str]:
    """Each fold's planned test interval and the target-time intervals (and window counts) its runs used."""
    if not folds:
        return []
    return ["## Folds", "",
            "Target times (UTC) of each fold's splits, as its runs used them, and the number of windows; "
            "the planned test intervals are consecutive and disjoint.", "",
            markdown_table(FOLD_COLUMNS, fold_cells(folds), left=FOLD_COLUMNS[1:]), ""]


def fold_cells(folds: list[dict]) -> list[list[str]]:
    """One row per fold, in FOLD_COLUMNS order: intervals as ``start .. end (windows)``."""
    rows = []
    for f in folds:
        planned = f["test_interval"]
        rows.append([str(f["fold"]), f"{_short(planned['start'])} .. {_short(planned['end'])}",
                     *[_split(f.get(k)) for k in ("train", "validation", "test")]])
    return rows


def _split(info: dict | None) -> str:
    return "—" if not info else f"{_short(info['start'])} .. {_short(info['end'])} ({info['n']})"


def _short(iso: str | None) -> str:
    return "—" if iso is None else iso[:16].replace("T", " ")


def _settings_block(results: dict) -> list[str]:
    s, d = results["settings"], results["data"]
    models = ", ".join(s["models"])
    folds = f", walk-forward {s['walk_forward']} folds" if s["walk_forward"] > 1 else ""
    return [
        f"- Created {results['created_at']} · atb {results['atb_version']} · status **{results['status']}** "
        f"({results['counts']['completed']}/{results['counts']['runs']} runs completed)",
        f"- Data: {d['source']}; last candle {d['last_candle'] or 'n/a'}"
        + (f" (--end-date {s['end_date']})" if s.get("end_date") else "") + f"; {s['days']:g} days of targets "
        f"(train/validation/test 70/15/15){folds}",
        f"- Models: {models}; features {s.get('features') or 'all'}; {s['epochs']} epochs; seeds "
        f"{', '.join(map(str, s['seeds']))}; "
        f"device {d.get('device') or s['device']}",
        *([f"- Ensemble: one per seed and fold of its models ({DEFAULT_METHOD}: weights fitted on their validation "
           "predictions), scored on the same test windows; the decision tests it against the best single model "
           "(chosen on validation)"] if s.get("ensemble") else []),
        "",
    ]


def settings_lines(results: dict) -> list[str]:
    """The settings block as plain text lines (the HTML report's)."""
    return [line[2:].replace("**", "") for line in _settings_block(results) if line]


def _table_notes(summary: Summary) -> list[str]:
    return [f"- {n}" for n in table_notes(summary)]


def table_notes(summary: Summary) -> list[str]:
    """What the comparison table's columns mean, and this summary's own notes."""
    notes = list(TABLE_NOTES)
    if len(summary.seeds) > 1:
        notes += [
            "Across seeds: metrics are mean ± std over the seeds. RMSE vs base and the DM tests are on one quantity, "
            "the squared error pooled over seeds and windows (each window's loss averaged over the seeds first, "
            "since the seeds share their windows); ± is the std of the per-seed improvements.",
            "Directional-accuracy CI: the per-seed 95% Wilson intervals, averaged; PT p: the per-seed p-values' "
            "median.",
        ]
    collapsed = [r for r in summary.rows if r.collapsed_seeds]
    if collapsed:
        notes.append("Collapsed forecasts: " + "; ".join(f"{r.label} in {r.collapsed_seeds} of {r.seeds} seeds"
                                                          for r in collapsed) + ".")
    return notes + summary.notes


def _md_line(line: str) -> str:
    if line.startswith("  - "):
        return "  " + line.strip()
    if line.startswith("  Why"):
        label, text = line.strip().split(":", 1)
        return f"  - *{label}:* {text.strip()}"
    return f"- {line}"
