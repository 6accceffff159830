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
from dataclasses import asdict
from datetime import datetime, timezone

import numpy as np

from atb import __version__
from atb.benchmark.ablation_report import SIGNIFICANCE, AblationResult, SetTest, render
from atb.benchmark.aggregate import OverlappingFolds, load_entries, prediction_frame, summarize, window_losses
from atb.benchmark.decision import MIN_DECISION_WINDOWS
from atb.benchmark.phase1 import _atomic_write, _check_writable, _status, fold_splits
from atb.benchmark.plan import make_folds, make_plan, resolve_last_candle
from atb.benchmark.records import Interrupted, Observer, RunRecord
from atb.benchmark.runner import run_plan
from atb.benchmark.settings import BenchSettings
from atb.evaluation.comparison import Entry
from atb.evaluation.stats import diebold_mariano_losses
from atb.features.sets import feature_names, groups_of
from atb.jsonio import dumps

RESULTS_FILE = "ablation_results.json"
REPORT_FILE = "ablation_report.md"
HTML_FILE = "ablation_report.html"


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


def too_small(settings: BenchSettings, headlines: list[SetTest]) -> str:
    """Why this run cannot answer (as the decision matrix: a smoke test, or too few pooled windows); "" if it can."""
    if settings.smoke_test:
        return "a smoke test shows that every model trains on every set, not whether the indicators help; run --full"
    windows = min((t.windows for t in headlines), default=0)
    if windows < MIN_DECISION_WINDOWS:
        return (f"only {windows} pooled test windows (fewer than {MIN_DECISION_WINDOWS}): too few to tell the sets "
                "apart; ask for more --days or --walk-forward folds")
    return ""


def _write_outputs(result: AblationResult, settings: BenchSettings) -> None:
    files = {"results": settings.output_dir / RESULTS_FILE, "report": settings.output_dir / REPORT_FILE,
             "html": settings.output_dir / HTML_FILE}
    result.results["files"] = {k: str(v) for k, v in files.items()}
    _atomic_write(files["report"], render(result))
    from atb.reports.ablation import write_ablation_report  # plotly and jinja2: deferred, only when writing it

    write_ablation_report(files["html"], result)
    _atomic_write(files["results"], dumps(result.results) + "\n")
    result.files = files
