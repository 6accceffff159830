"""The feature ablation: are the technical indicators helping?

Every architecture is trained on each feature set (atb.features.sets; by default ``returns``,
``returns+volume`` and ``all``) over the same seeds and folds, so all of them are scored on the same test
target times. Per architecture, each set is tested against every set it contains (the richer against the
poorer) with the Diebold-Mariano test, one-sided, H1: the richer set's loss is lower, on each window's squared
error averaged over the seeds first (the seeds share their windows; as in atb.benchmark.aggregate). The
improvement beside it is the RMSE of those same pooled losses. As everywhere: "better" needs the one-sided
p < 0.05 and a lower RMSE in every seed; "worse" the same on the other side; anything else is no evidence.

The answer per architecture comes from the headline pair: the richest set against the largest set it contains
(``all`` against ``returns+volume`` by default: what the candle's shape and the TA-Lib indicators add). The
Holm-adjusted p-values over the architectures are shown beside it (one question asked once per architecture).

Files written to the output folder: ablation_results.json (settings, every run, each set's summary as in
phase1_results.json, every test), ablation_report.md and ablation_report.html.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from atb import __version__
from atb.benchmark.aggregate import OverlappingFolds, Summary, load_entries, prediction_frame, summarize, window_losses
from atb.benchmark.decision import MIN_DECISION_WINDOWS
from atb.benchmark.phase1 import _atomic_write, _check_writable, _status, fold_splits
from atb.benchmark.plan import make_folds, make_plan, resolve_last_candle
from atb.benchmark.report import COLUMNS, markdown_table, summary_cells, title
from atb.benchmark.runner import Interrupted, Observer, RunRecord, run_plan
from atb.benchmark.settings import BenchSettings
from atb.evaluation.comparison import Entry
from atb.evaluation.metric_table import fmt_p
from atb.evaluation.stats import diebold_mariano_losses
from atb.features.sets import feature_names, groups_of
from atb.jsonio import dumps

SIGNIFICANCE = 0.05
RESULTS_FILE = "ablation_results.json"
REPORT_FILE = "ablation_report.md"
HTML_FILE = "ablation_report.html"
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


def run_ablation(settings: BenchSettings, observer: Observer | None = None) -> AblationResult:
    """Run every training (models x feature sets x seeds x folds), test the sets, write the files; raise
    KeyboardInterrupt after writing them when interrupted. Failed runs are recorded, not raised."""
    _check_writable(settings.output_dir)
    last_candle = resolve_last_candle(settings)
    plan = make_plan(settings, last_candle)
    interrupted = False
    try:
        records = run_plan(settings, plan, observer)
    except Interrupted as exc:
        records, interrupted = exc.records, True
    entries = load_entries(records)
    summaries, notes = {}, []
    for features in settings.feature_sets:
        try:
            summaries[features] = summarize([r for r in records if r.features == features], entries)
        except OverlappingFolds as exc:
            summaries[features] = None
            notes.append(f"{features}: {exc}")
    tests = compare_sets(records, entries, settings.feature_sets)
    headlines = headline_tests(tests, settings.feature_sets)
    status = _status(records, len(plan), interrupted)
    results = {
        "benchmark": "ablation", "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "atb_version": __version__, "status": status, "settings": settings.to_dict(),
        "feature_sets": {s: feature_names(s) for s in settings.feature_sets},
        "counts": {"runs": len(plan), "completed": sum(r.ok for r in records),
                   "failed": sum(r.status == "failed" for r in records), "not_run": len(plan) - len(records)},
        "folds": fold_splits(make_folds(settings, last_candle), records, entries),
        "runs": [r.to_dict() for r in records],
        "summaries": {s: (v.to_dict() if v else None) for s, v in summaries.items()},
        "tests": [asdict(t) for t in tests],
        "too_small": too_small(settings, headlines),
        "answer": {t.label: t.answer() for t in headlines},
        "notes": notes,
    }
    result = AblationResult(status, records, summaries, tests, headlines, results)
    _write_outputs(result, settings)
    if interrupted:
        raise KeyboardInterrupt
    return result


def compare_sets(records: list[RunRecord], entries: dict[int, Entry], feature_sets: tuple[str, ...]) -> list[SetTest]:
    """Per architecture (plan order), each set against every set it contains, on the windows both scored."""
    ok = [r for r in records if r.ok and r.index in entries]
    tests = []
    for label in dict.fromkeys(r.label for r in ok):
        runs = {s: [r for r in ok if r.label == label and r.features == s] for s in feature_sets}
        for richer in reversed(feature_sets):
            for poorer in reversed(feature_sets):
                if set(groups_of(poorer)) < set(groups_of(richer)) and runs[richer] and runs[poorer]:
                    test = _test(label, richer, poorer, prediction_frame(runs[richer], entries),
                                 prediction_frame(runs[poorer], entries))
                    if test is not None:
                        tests.append(test)
    return tests


def headline_tests(tests: list[SetTest], feature_sets: tuple[str, ...]) -> list[SetTest]:
    """Per architecture: the richest set it has against the largest set that one contains; Holm-adjusted."""
    chosen: dict[str, SetTest] = {}
    size = {s: len(feature_names(s)) for s in feature_sets}
    for t in tests:
        best = chosen.get(t.label)
        if best is None or (size[t.richer], size[t.poorer]) > (size[best.richer], size[best.poorer]):
            chosen[t.label] = t
    headlines = list(chosen.values())
    for t, better, worse in zip(headlines, holm([t.p_better for t in headlines]), holm([t.p_worse for t in headlines]),
                                strict=True):
        t.p_better_holm, t.p_worse_holm = better, worse
    return headlines


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN)."""
    finite = sorted((p, i) for i, p in enumerate(p_values) if math.isfinite(p))
    out = [float("nan")] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(finite):
        running = max(running, min(1.0, (len(finite) - rank) * p))
        out[i] = running
    return out


def _test(label: str, richer: str, poorer: str, rich, poor) -> SetTest | None:
    common = rich.index.intersection(poor.index).sort_values()
    if len(common) < 3:
        return None
    rich, poor = rich.loc[common], poor.loc[common]
    loss_rich, loss_poor = window_losses(rich), window_losses(poor)
    better = diebold_mariano_losses(loss_rich.to_numpy(), loss_poor.to_numpy())
    worse = diebold_mariano_losses(loss_poor.to_numpy(), loss_rich.to_numpy())
    rmse_rich, rmse_poor = float(np.sqrt(loss_rich.mean())), float(np.sqrt(loss_poor.mean()))
    seeds = sorted(set(common.get_level_values("seed")))
    lower = sum(_seed_rmse(rich, s) < _seed_rmse(poor, s) for s in seeds)
    change = 100 * (rmse_rich / rmse_poor - 1) if rmse_poor > 0 else float("nan")
    if change < 0 and better.p_value_one_sided < SIGNIFICANCE and lower == len(seeds):
        verdict = "better"
    elif change > 0 and worse.p_value_one_sided < SIGNIFICANCE and lower == 0:
        verdict = "worse"
    else:
        verdict = "no evidence"
    return SetTest(label, richer, poorer, len(loss_rich), seeds, rmse_rich, rmse_poor, change, better.statistic,
                   better.p_value_one_sided, worse.p_value_one_sided, int(lower), verdict)


def _seed_rmse(frame, seed: int) -> float:
    f = frame.xs(seed, level="seed")
    return float(np.sqrt(((f["predicted_close"] - f["actual_close"]) ** 2).mean()))


# --- the report ------------------------------------------------------------------------------------------------

TEST_COLUMNS = ("model", "richer vs poorer", "windows", "RMSE richer", "RMSE poorer", "RMSE change",
                "DM stat", "p (richer better)", "p (richer worse)", "seeds lower", "verdict")


def test_cells(t: SetTest) -> list[str]:
    return [t.label, t.pair, str(t.windows), f"{t.rmse_richer:.4f}", f"{t.rmse_poorer:.4f}",
            f"{t.rmse_change_pct:+.2f}%", f"{t.dm_statistic:+.2f}", fmt_p(t.p_better), fmt_p(t.p_worse),
            f"{t.seeds_lower}/{len(t.seeds)}", t.verdict]


def too_small(settings: BenchSettings, headlines: list[SetTest]) -> str:
    """Why this run cannot answer (as the decision matrix: a smoke test, or too few pooled windows); "" if it can."""
    if settings.smoke_test:
        return "a smoke test shows that every model trains on every set, not whether the indicators help; run --full"
    windows = min((t.windows for t in headlines), default=0)
    if windows < MIN_DECISION_WINDOWS:
        return (f"only {windows} pooled test windows (fewer than {MIN_DECISION_WINDOWS}): too few to tell the sets "
                "apart; ask for more --days or --walk-forward folds")
    return ""


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


def _write_outputs(result: AblationResult, settings: BenchSettings) -> None:
    files = {"results": settings.output_dir / RESULTS_FILE, "report": settings.output_dir / REPORT_FILE,
             "html": settings.output_dir / HTML_FILE}
    result.results["files"] = {k: str(v) for k, v in files.items()}
    _atomic_write(files["report"], render(result))
    from atb.reports.ablation import write_ablation_report  # plotly and jinja2: deferred, only when writing it

    write_ablation_report(files["html"], result)
    _atomic_write(files["results"], dumps(result.results) + "\n")
    result.files = files
