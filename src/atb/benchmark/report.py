"""phase1_report.md: the comparison table (the columns of `atb models compare`), the guide's comparison vs
the baseline with significance, the decision, per-fold and per-seed detail, and every run."""

from __future__ import annotations

from atb.benchmark.aggregate import Summary
from atb.benchmark.decision import Decision
from atb.benchmark.runner import RunRecord
from atb.evaluation.comparison import Comparison, guide_verdict
from atb.evaluation.metric_table import COLUMNS, METRIC, TABLE_NOTES, cells

RUN_METRICS = ("test_rmse", "rmse_skill_vs_naive", "training_time_s")  # the report's list of every run
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
    shown = [METRIC[k] for k in RUN_METRICS]
    out += ["## Runs", "", markdown_table(
        ("#", "model", "seed", "fold", "status", *(m.header for m in shown), "epochs", "version / error"),
        [[str(r.index), r.label, str(r.seed), str(r.fold), r.status,
          *(m.format(r.metrics.get(m.key)) for m in shown),
          str(r.metrics.get("epochs_run", "—")), r.version_id or (r.error or "")] for r in records],
        left=("model", "status", "version / error")), ""]
    return "\n".join(out)


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
