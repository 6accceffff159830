"""`atb ab report --html FILE`: the decision (promote, keep, not enough data) and its rule first, then each role's
scores on the shared realised target times, the forecasts of both roles against the realised close and the
cumulative squared-error difference, and the provenance."""

from __future__ import annotations

from pathlib import Path

from atb.reports import figures
from atb.reports.html import figure_html, provenance, render_page, table
from atb.serving.ab_report import ROLE_HEADERS, ABReport, detail_lines, report_title, role_cells

TEMPLATE = "ab.html.j2"


def write_ab_report(path: Path, report: ABReport, *, synthetic: bool = False, facts: dict | None = None) -> Path:
    tag = " — SYNTHETIC" if synthetic else ""
    charts = []
    if report.series is not None and len(report.series):
        roles = [(f"predicted_{r.role}", f"{r.role} {r.version}") for r in report.roles]
        charts.append(figure_html(figures.ab_series(report.series, roles,
                                                    f"Forecasts on the shared realised target times{tag}"), height=560))
    return render_page(
        TEMPLATE, path, title=f"A/B report: {report_title(report)}" + (" (SYNTHETIC)" if synthetic else ""),
        synthetic=synthetic, headline=f"Decision: {report.decision}",
        lines=[f"Rule: {report.rule}", *(line.strip() for line in detail_lines(report))],
        roles=table(ROLE_HEADERS, [role_cells(r) for r in report.roles], left=("role", "version")), charts=charts,
        provenance=provenance(symbol=report.symbol, timeframe=report.timeframe, horizon=report.horizon,
                              target_times=f"{report.first_target} .. {report.last_target}" if report.n else "none",
                              **(facts or {})))
