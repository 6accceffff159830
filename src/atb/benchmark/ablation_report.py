"""What a feature ablation found (its tests and result) and how it reads: the tables' cells, the one-line
answers and the Markdown report. Shared by the ablation (atb.benchmark.ablation), the terminal and the HTML page
(atb.reports.ablation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from atb.benchmark.aggregate import Summary
from atb.benchmark.records import RunRecord
from atb.benchmark.report import COLUMNS, markdown_table, summary_cells, title
from atb.evaluation.metric_table import fmt_p

SIGNIFICANCE = 0.05
QUESTION = "Are the technical indicators helping?"


@dataclass
class SetTest:
    """One architecture: a richer feature set against a poorer one it contains, on their shared windows."""

    label: str  # e.g. "tcn (default)"
    richer: str
    poorer: str
    windows: int
    seeds: list[int]
    rmse_richer: float  # pooled over seeds and windows (the quantity the DM test is on)
    rmse_poorer: float
    rmse_change_pct: float  # the richer set's RMSE vs the poorer's; negative: the richer set forecasts better
    dm_statistic: float  # negative: the richer set's loss is lower
    p_better: float  # one-sided, H1: the richer set's loss is lower
    p_worse: float  # one-sided, H1: the richer set's loss is higher
    seeds_lower: int  # seeds whose RMSE (on these windows) is lower with the richer set
    verdict: str  # "better", "worse" or "no evidence"
    p_better_holm: float | None = None  # the headline pairs: Holm-adjusted over the architectures
    p_worse_holm: float | None = None

    @property
    def p_answer(self) -> tuple[float, float | None]:
        """The one-sided p-value the answer quotes (in the direction of its claim), and its Holm adjustment."""
        return (self.p_worse, self.p_worse_holm) if self.verdict == "worse" else (self.p_better, self.p_better_holm)

    @property
    def pair(self) -> str:
        return f"{self.richer} vs {self.poorer}"

    def answer(self) -> str:
        """The one-line answer, e.g. "no: all vs returns+volume +0.10% RMSE, one-sided p=0.410"."""
        change = f"{self.pair} {self.rmse_change_pct:+.2f}% RMSE"
        seeds = len(self.seeds)
        if self.verdict == "better":
            return f"yes: {change}, one-sided p={fmt_p(self.p_better)}, lower in {self.seeds_lower}/{seeds} seeds"
        if self.verdict == "worse":
            return (f"no, they hurt: {change}, one-sided p={fmt_p(self.p_worse)} (H1: higher loss), higher in "
                    f"{seeds - self.seeds_lower}/{seeds} seeds")
        return f"no: {change}, one-sided p={fmt_p(self.p_better)}, lower in {self.seeds_lower}/{seeds} seeds"


@dataclass
class AblationResult:
    status: str  # completed | partial | failed | interrupted
    records: list[RunRecord]
    summaries: dict[str, Summary | None]  # feature set -> its phase-1 summary (vs naive and the baseline)
    tests: list[SetTest]
    headlines: list[SetTest]  # one per architecture: the headline pair
    results: dict
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> list[RunRecord]:
        return [r for r in self.records if not r.ok]


# --- the report ------------------------------------------------------------------------------------------------

TEST_COLUMNS = ("model", "richer vs poorer", "windows", "RMSE richer", "RMSE poorer", "RMSE change",
                "DM stat", "p (richer better)", "p (richer worse)", "seeds lower", "verdict")


def test_cells(t: SetTest) -> list[str]:
    return [t.label, t.pair, str(t.windows), f"{t.rmse_richer:.4f}", f"{t.rmse_poorer:.4f}",
            f"{t.rmse_change_pct:+.2f}%", f"{t.dm_statistic:+.2f}", fmt_p(t.p_better), fmt_p(t.p_worse),
            f"{t.seeds_lower}/{len(t.seeds)}", t.verdict]


def answer_lines(headlines: list[SetTest], too_small: str = "") -> list[str]:
    """One line per architecture; when the run is too small to answer, its nominal reading only, marked so."""
    many = len(headlines) > 1
    prefix = "nominal only, not an answer: " if too_small else ""
    lines = [f"{t.label}: {prefix}{t.answer()}" + (f" (Holm over {len(headlines)} architectures: "
                                                   f"p={fmt_p(t.p_answer[1])})" if many else "") for t in headlines]
    return ([f"NO ANSWER: {too_small}"] if too_small and headlines else []) + lines


RUN_TEXT_COLUMNS = ("model", "features", "status", "version / error")


def run_cells(records: list[RunRecord]) -> tuple[tuple[str, ...], list[list[str]]]:
    """The list of every run: headers and rows."""
    headers = ("#", "model", "features", "seed", "fold", "status", "RMSE", "version / error")
    return headers, [[str(r.index), r.label, r.features or "", str(r.seed), str(r.fold), r.status,
                      f"{r.metrics['test_rmse']:.4f}" if r.metrics.get("test_rmse") is not None else "—",
                      r.version_id or (r.error or "")] for r in records]


def render(result: AblationResult) -> str:
    results, settings = result.results, result.results["settings"]
    synthetic = settings["data_source"] == "synthetic"
    out = [f"# Feature ablation — {title(settings, synthetic)}", ""]
    if synthetic:
        out += ["> **SYNTHETIC market** (seeded AR-GARCH process): these numbers say nothing about real prices.", ""]
    if settings["smoke_test"]:
        out += ["> **Smoke test**: it checks that every model trains on every feature set, not whether the "
                "indicators help; run `--full`.", ""]
    out += [f"- Created {results['created_at']} · atb {results['atb_version']} · status **{results['status']}** "
            f"({results['counts']['completed']}/{results['counts']['runs']} runs completed)",
            f"- Data: {settings['data_source']}{' ' + settings['data_file'] if settings.get('data_file') else ''}; "
            f"{settings['days']:g} days of targets; {settings['epochs']} epochs; seeds "
            f"{', '.join(map(str, settings['seeds']))}; models {', '.join(settings['models'])}",
            "- Feature sets: " + "; ".join(f"**{s}** ({len(names)}: {', '.join(names)})"
                                           for s, names in results["feature_sets"].items()), ""]
    out += [f"## {QUESTION}", ""]
    if result.headlines:
        out += [f"- {line}" for line in answer_lines(result.headlines, results["too_small"])]
    else:
        out.append("No architecture has results for a set and a richer one: nothing to test.")
    out += ["", "Each line: the richest feature set against the largest set it contains (what the extra groups "
            "add), the change of the RMSE pooled over seeds and windows, the one-sided Diebold-Mariano p-value "
            "(H1: lower loss with the richer set; each window's squared error averaged over the seeds first), and "
            f"in how many seeds the richer set's RMSE is lower. \"yes\" needs p < {SIGNIFICANCE} and a lower RMSE "
            "in every seed.", ""]
    if result.tests:
        out += ["## Every pair", "", markdown_table(TEST_COLUMNS, [test_cells(t) for t in result.tests],
                                                    left=("model", "richer vs poorer", "verdict")), ""]
    for features, summary in result.summaries.items():
        out += [f"## Feature set {features}", ""]
        if summary is None:
            out += ["No summary (no run completed, or the folds overlapped).", ""]
            continue
        out += [f"{summary.windows} test windows, {summary.start} .. {summary.end} UTC; mean ± std across "
                f"{len(summary.seeds)} seed(s).", "", markdown_table(COLUMNS, summary_cells(summary)), ""]
    out += ["## Runs", "", markdown_table(*run_cells(result.records), left=RUN_TEXT_COLUMNS), ""]
    if results["notes"]:
        out += ["## Notes", "", *[f"- {n}" for n in results["notes"]], ""]
    return "\n".join(out)
