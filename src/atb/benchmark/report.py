"""phase1_report.md: the comparison table (the columns of `atb models compare`), the guide's comparison vs
the baseline with significance, the decision, per-fold and per-seed detail, and every run."""

from __future__ import annotations

from atb.benchmark.aggregate import Summary
from atb.benchmark.decision import Decision
from atb.benchmark.runner import RunRecord
from atb.evaluation.comparison import Comparison, guide_verdict

FOLD_COLUMNS = ("fold", "test interval (planned)", "train", "validation", "test")
COLUMNS = ("model", "RMSE", "MAE", "MAPE %", "dir. acc. % [95% CI]", "up % fc/act", "PT p", "fit s",
           "fit s/1k win", "ONNX p50 ms", "params", "RMSE vs base", "DM p vs base", "DM p vs naive")


def fmt_p(p: float | None) -> str:
    if p is None or p != p:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _num(value: float | None, digits: int, std: float | None = None, sign: bool = False) -> str:
    if value is None or value != value:
        return "—"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return text if std is None else f"{text} ± {std:.{digits}f}"


def _up_rates(predicted: float | None, actual: float | None) -> str:
    """The forecast's and the market's share of up moves: the base rates beside a directional accuracy."""
    return f"{_num(predicted, 0)}/{_num(actual, 0)}"


def summary_cells(summary: Summary) -> list[list[str]]:
    """One list of cells per row, in COLUMNS order: mean ± std across seeds, DM p on the pooled windows."""
    rows = []
    for r in summary.rows:
        m, s = r.mean, r.std
        lo, hi = r.directional_accuracy_ci95
        da = "—" if r.is_naive else (
            f"{_num(m['directional_accuracy'], 1, s['directional_accuracy'])} [{_num(lo, 1)}, {_num(hi, 1)}]")
        collapsed = f" [collapsed: {r.collapsed_seeds}/{r.seeds} seeds]" if r.collapsed_seeds else ""
        rows.append([
            r.label + (" (baseline)" if r.is_baseline else "") + collapsed,
            _num(m["test_rmse"], 4, s["test_rmse"]), _num(m["test_mae"], 4, s["test_mae"]),
            _num(m["mape"], 3, s["mape"]), da,
            _up_rates(None if r.is_naive else m["predicted_up_pct"], m["actual_up_pct"]),
            "—" if r.is_naive else fmt_p(r.directional_pt_p_median),
            _num(m["training_time_s"], 1, s["training_time_s"]),
            _num(m["fit_s_per_1k_windows"], 3, s["fit_s_per_1k_windows"]), _num(m["inference_ms_p50"], 3),
            "—" if r.parameters is None else f"{r.parameters:,}",
            "—" if r.is_baseline else _pct(m["rmse_improvement_pct"], s["rmse_improvement_pct"]),
            fmt_p(r.dm_vs_baseline["p_value_one_sided"]) if r.dm_vs_baseline else "—",
            "—" if r.is_naive else fmt_p(r.dm_vs_naive["p_value_one_sided"] if r.dm_vs_naive else None),
        ])
    return rows


def comparison_cells(comp: Comparison) -> list[list[str]]:
    """The same columns for one Comparison (a single seed), as `atb models compare` prints them."""
    rows = []
    for r in comp.rows:
        m = r.metrics
        lo, hi = m["directional_accuracy_ci95"]
        rows.append([
            r.label + (" (baseline)" if r.is_baseline else "") + (" [collapsed]" if m.get("collapsed") else ""),
            _num(m["test_rmse"], 4), _num(m["test_mae"], 4), _num(m["mape"], 3),
            "—" if r.is_naive else f"{m['directional_accuracy']:.1f} [{lo:.1f}, {hi:.1f}]",
            _up_rates(m.get("predicted_up_pct"), m.get("actual_up_pct")),
            "—" if r.is_naive else fmt_p(m.get("directional_pt_p_value")),
            _num(r.training_time_s, 1), _num(r.fit_s_per_1k_windows, 3), _num(r.inference_ms_p50, 3),
            "—" if r.parameters is None else f"{r.parameters:,}",
            "—" if r.is_baseline else _pct(r.rmse_improvement_pct),
            fmt_p(r.dm_vs_baseline.get("p_value_one_sided")) if r.dm_vs_baseline else "—",
            "—" if r.is_naive else fmt_p(m["dm_vs_naive"].get("p_value_one_sided")),
        ])
    return rows


TABLE_NOTES = (
    "RMSE/MAE in quote currency, MAPE and directional accuracy in %; directional accuracy counts the moves with "
    "a direction (actual close != last close), with a 95% Wilson interval.",
    "up % fc/act: the share of up forecasts and of up moves over the same scored moves (the base rates: an "
    "accuracy near the market's up share may only mean \"always up\"). PT p: Pesaran-Timmermann test, one-sided, "
    "H1: the forecast's up/down calls beat what the two base rates give by chance.",
    "fit s: fit time alone; fit s/1k win: fit time per 1,000 training windows processed (windows x epochs run), "
    "the speed criterion (early stopping makes total fit time a matter of when it stops). ONNX p50: one window, "
    "one thread, after warm-up.",
    "RMSE vs base: RMSE improvement over the CNN-LSTM baseline (positive = better). DM p: Diebold-Mariano test "
    "(squared error, HLN correction), one-sided, H1: the row's loss is lower than the baseline's (vs base) or "
    "naive persistence's (vs naive); its statistic is negative when the row's squared errors are smaller.",
    "A row marked [collapsed] forecasts (nearly) one sign or barely moves (>= 95% of forecasts on one side, or a "
    "forecast spread under 0.5% of the realised returns'): its scores say little about skill.",
)


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
        out.append(f"- **{r.label}**: RMSE improvement {_pct(imp, r.std.get('rmse_improvement_pct'))}{every} · "
                   f"{verdict}")
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
    if decision is not None:
        out += ["## Decision", "", f"**{decision.headline}**", ""]
        out += [_md_line(line) for line in decision.lines()[1:]] + [""]
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
    out += ["## Runs", "", markdown_table(
        ("#", "model", "seed", "fold", "status", "RMSE", "skill vs naive", "fit s", "epochs", "version / error"),
        [[str(r.index), r.label, str(r.seed), str(r.fold), r.status, _num(r.metrics.get("test_rmse"), 4),
          _pct(_scaled(r.metrics.get("rmse_skill_vs_naive"))), _num(r.metrics.get("training_time_s"), 1),
          str(r.metrics.get("epochs_run", "—")), r.version_id or (r.error or "")] for r in records],
        left=("model", "status", "version / error")), ""]
    return "\n".join(out)


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
        f"- Models: {models}; {s['epochs']} epochs; seeds {', '.join(map(str, s['seeds']))}; "
        f"device {d.get('device') or s['device']}",
        "",
    ]


def _table_notes(summary: Summary) -> list[str]:
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
    return [f"- {n}" for n in notes + summary.notes]


def _md_line(line: str) -> str:
    if line.startswith("  - "):
        return "  " + line.strip()
    if line.startswith("  Why"):
        label, text = line.strip().split(":", 1)
        return f"  - *{label}:* {text.strip()}"
    return f"- {line}"


def _pct(value: float | None, std: float | None = None) -> str:
    return _num(value, 1, std, sign=True) + ("%" if value is not None and value == value else "")


def _scaled(value: float | None) -> float | None:
    return None if value is None else 100 * value

