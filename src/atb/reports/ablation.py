"""ablation_report.html: "are the technical indicators helping?" answered first (one line per architecture), then
every pair of feature sets (its RMSE change as a chart and the table), each set's comparison table (the metric
table's cells), every run and the provenance."""

from __future__ import annotations

from pathlib import Path

from atb.benchmark.ablation_report import (
    QUESTION,
    RUN_TEXT_COLUMNS,
    SIGNIFICANCE,
    TEST_COLUMNS,
    AblationResult,
    answer_lines,
    run_cells,
    test_cells,
)
from atb.benchmark.report import summary_cells, title
from atb.evaluation.metric_table import COLUMNS
from atb.reports import figures
from atb.reports.html import figure_html, provenance, render_page, table

TEMPLATE = "ablation.html.j2"
VERDICT_COLOURS = {"better": "#2ca02c", "worse": "#d62728"}


def write_ablation_report(path: Path, result: AblationResult) -> Path:
    results, settings = result.results, result.results["settings"]
    synthetic = settings["data_source"] == "synthetic"
    answers = answer_lines(result.headlines, results["too_small"]) if result.headlines else [
        "No architecture has results for a set and a richer one: nothing to test."]
    charts = []
    if result.tests:
        charts.append(figure_html(figures.bars(
            [f"{t.label}: {t.pair}" for t in result.tests], [t.rmse_change_pct for t in result.tests],
            "RMSE change of the richer feature set (negative = the richer set forecasts better)"
            + (" — SYNTHETIC" if synthetic else ""), "RMSE change %",
            [VERDICT_COLOURS.get(t.verdict, figures.NAIVE) for t in result.tests])))
    sets = [(features, table(COLUMNS, summary_cells(s), dim=[r.is_naive for r in s.rows]) if s else None,
             f"{s.windows} test windows, {s.start} .. {s.end} UTC; mean ± std across {len(s.seeds)} seed(s)."
             if s else "No summary (no run completed, or the folds overlapped).")
            for features, s in result.summaries.items()]
    return render_page(
        TEMPLATE, path, title=f"Feature ablation — {title(settings, synthetic)}", synthetic=synthetic,
        smoke=settings["smoke_test"], question=QUESTION, headline=answers[0], lines=answers[1:],
        rule=(f"Each line: the richest feature set against the largest set it contains, the change of the RMSE pooled "
              f"over seeds and windows, the one-sided Diebold-Mariano p-value (H1: lower loss with the richer set) "
              f"and in how many seeds the richer set's RMSE is lower. \"yes\" needs p < {SIGNIFICANCE} and a lower "
              "RMSE in every seed."),
        feature_sets=[f"{s} ({len(names)}: {', '.join(names)})" for s, names in results["feature_sets"].items()],
        pairs=table(TEST_COLUMNS, [test_cells(t) for t in result.tests], left=("model", "richer vs poorer", "verdict"))
        if result.tests else None,
        charts=charts, sets=sets, runs=table(*run_cells(result.records), left=RUN_TEXT_COLUMNS),
        notes=list(results.get("notes") or []),
        provenance=provenance(data_source=settings["data_source"] + (" (SYNTHETIC)" if synthetic else ""),
                              data_file=settings.get("data_file"), days=settings["days"], epochs=settings["epochs"],
                              seeds=", ".join(map(str, settings["seeds"])), benchmark_created=results["created_at"],
                              status=results["status"]))
