"""`atb models compare --html FILE`: the versions and naive persistence on their shared test windows: the verdict
lines first, the comparison table (the metric table's cells), each version's test forecasts against the actual
close and the naive forecast, and the provenance."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from atb.evaluation.comparison import Comparison, Entry
from atb.evaluation.metric_table import COLUMNS, cells
from atb.registry.predictions import keep_test
from atb.reports import figures
from atb.reports.html import figure_html, provenance, render_page, table

TEMPLATE = "compare.html.j2"


def write_compare_report(path: Path, comparison: Comparison, entries: list[Entry], *, title: str,
                         lines: list[str], facts: dict | None = None) -> Path:
    synthetic = any(e.synthetic for e in entries)
    tag = " — SYNTHETIC" if synthetic else ""
    start, end = pd.Timestamp(comparison.start, tz="UTC"), pd.Timestamp(comparison.end, tz="UTC")
    series = []
    for e in entries:
        test = keep_test(e.predictions, e.name)
        times = pd.to_datetime(test["target_time"], utc=True)
        series.append((e.label, test[(times >= start) & (times <= end)]))
    charts = [figure_html(figures.forecasts(series, f"Shared test windows: forecasts vs actual close vs naive{tag}"),
                          height=480)] if series else []
    headline = next((line for line in lines if line.startswith(("Beats naive", "No model beats"))), "")
    notes = [line[len("Note: "):] for line in lines if line.startswith("Note: ")]
    body = [line for line in lines if line and not line.startswith("Note: ") and line != headline
            and not set(line) <= {"-"}]
    return render_page(
        TEMPLATE, path, title=title + (" (SYNTHETIC)" if synthetic else ""), synthetic=synthetic,
        headline=headline, lines=body, notes=notes,
        subtitle=f"{comparison.windows} shared test windows, {comparison.start} .. {comparison.end} UTC",
        comparison=table(COLUMNS, [cells(r) for r in comparison.rows], dim=[r.is_naive for r in comparison.rows]),
        charts=charts,
        provenance=provenance(versions_compared=", ".join(e.name for e in entries),
                              data_source=", ".join(sorted({str(e.metadata.data.source) for e in entries})),
                              test_windows=f"{comparison.start} .. {comparison.end} UTC", **(facts or {})))
