"""The Phase-1 benchmark end to end: plan -> training runs -> summary -> decision -> files -> run log.

Used by `atb bench phase1` and scripts/phase1_benchmark.py. Files written to the output folder:
phase1_results.json (settings, each fold's test interval and the train/validation/test intervals its runs
used, every run, the summary and the decision), phase1_report.md, phase1_report.html (the same report with
interactive charts, self-contained: atb.reports.phase1) and phase1_comparison.png.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from atb import __version__
from atb.benchmark.aggregate import OverlappingFolds, Summary, load_entries, summarize
from atb.benchmark.decision import Decision, decide
from atb.benchmark.ensembles import planned_ensembles, run_ensembles, versus_best_single
from atb.benchmark.plan import Fold, make_folds, make_plan, resolve_last_candle
from atb.benchmark.plots import plot_comparison
from atb.benchmark.records import Interrupted, Observer, RunRecord
from atb.benchmark.report import render, title
from atb.benchmark.runner import run_plan
from atb.benchmark.settings import BenchSettings
from atb.benchmark.trading import trading_summary
from atb.doctor.result import DoctorReport
from atb.errors import AtbError, UsageError
from atb.jsonio import dumps, to_jsonable
from atb.registry.metadata import DataInfo, VersionMetadata

SPLITS = ("train", "validation", "test")
RESULTS_FILE = "phase1_results.json"
REPORT_FILE = "phase1_report.md"
HTML_FILE = "phase1_report.html"
PLOT_FILE = "phase1_comparison.png"


class RunsFailed(AtbError):
    """Some training runs failed; the results were still written (exit code 1)."""


@dataclass
class Phase1Result:
    status: str  # completed | partial | failed | interrupted
    records: list[RunRecord]
    summary: Summary | None
    decision: Decision | None
    results: dict
    files: dict[str, Path] = field(default_factory=dict)
    benchmark_id: int | None = None
    doctor: DoctorReport | None = None  # --doctor

    @property
    def failed(self) -> list[RunRecord]:
        return [r for r in self.records if not r.ok]


def run_phase1(settings: BenchSettings, observer: Observer | None = None) -> Phase1Result:
    """Run every training, write the files and the run-log row; raise KeyboardInterrupt after writing them
    when interrupted. Failed runs do not raise here: see Phase1Result.failed (the CLI exits non-zero)."""
    _check_writable(settings.output_dir)
    last_candle = resolve_last_candle(settings)
    plan = make_plan(settings, last_candle)
    interrupted = False
    planned = len(plan) + planned_ensembles(settings)
    try:
        records = run_plan(settings, plan, observer)
    except Interrupted as exc:
        records, interrupted = exc.records, True
    if settings.ensemble and not interrupted:
        try:
            records += run_ensembles(settings, records, observer, planned)
        except Interrupted as exc:  # what finished is written down, then the benchmark stops
            records, interrupted = records + exc.records, True
    entries = load_entries(records)
    try:
        summary, refused = summarize(records, entries), None
    except OverlappingFolds as exc:  # written down with the runs, then raised: never a double-counted table
        summary, refused = None, exc
    if summary is not None:  # does acting on the forecasts beat buy-and-hold after costs?
        summary.attach_trading(*trading_summary(records, entries, settings.timeframe))
    per_fold = []
    if settings.walk_forward > 1 and summary is not None:
        for fold in summary.folds:
            fold_summary = summarize([r for r in records if r.fold == fold], entries)
            if fold_summary is not None:
                per_fold.append((fold, fold_summary))
    versus = versus_best_single(records, entries) if settings.ensemble and summary else None
    decision = decide([r.flat() for r in summary.rows], settings.smoke_test, summary.windows,
                      ensemble=versus) if summary else None
    doctor = None
    if settings.doctor and not interrupted:
        try:
            doctor = run_quick_doctor(settings, getattr(observer, "doctor_stage", None))
        except KeyboardInterrupt:
            interrupted = True
        except AtbError as exc:  # the benchmark's own results are still written
            settings.notes.append(f"--doctor could not run: {exc}")
    status = "failed" if refused else _status(records, planned, interrupted)
    data = _data_info(settings, entries, records, last_candle)
    results = {
        "benchmark": "phase1", "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "atb_version": __version__, "status": status, "settings": settings.to_dict(), "data": data,
        "counts": {"runs": planned, "completed": sum(r.ok for r in records),
                   "failed": sum(r.status == "failed" for r in records),
                   "not_run": planned - len(records)},
        "folds": fold_splits(make_folds(settings, last_candle), records, entries),
        "runs": [r.to_dict() for r in records],
        "error": str(refused) if refused else None,
        "summary": summary.to_dict() if summary else None,
        "per_fold": [{"fold": f, **s.to_dict()} for f, s in per_fold],
        "decision": decision.to_dict() if decision else None,
        "ensemble_vs_best_single": versus,
        "doctor": doctor.to_dict() if doctor else None,
        "notes": settings.notes,
    }
    result = Phase1Result(status, records, summary, decision, results, doctor=doctor)
    _write_outputs(result, settings, per_fold)
    result.benchmark_id = _record(settings, result)
    if interrupted:
        raise KeyboardInterrupt
    if refused:
        raise refused
    return result


def run_quick_doctor(settings: BenchSettings, progress=None) -> DoctorReport:
    """`atb doctor --quick` on the benchmark's candles and models; it audits the symbol's newest version too."""
    from atb.doctor.runner import run_doctor  # deferred: only with --doctor
    from atb.doctor.settings import make_doctor_settings

    return run_doctor(make_doctor_settings(
        quick=True, symbol=settings.symbol, models=",".join(map(str, settings.models)), timeframe=settings.timeframe,
        data_source=settings.data_source, data_file=settings.data_file, models_dir=settings.models_dir,
        device=settings.device), progress)


def fold_splits(folds: list[Fold], records: list[RunRecord], entries: dict) -> list[dict]:
    """Each fold's planned test interval and the train/validation/test intervals and counts its runs used
    (from their metadata; every run of a fold sees the same candles, so they agree)."""
    out = []
    for fold in folds:
        metas = [entries[r.index].metadata.data for r in records if r.fold == fold.number and r.index in entries]
        splits = {k: _split(metas[0], k) if metas else None for k in SPLITS}
        agree = all({k: _split(m, k) for k in SPLITS} == splits for m in metas)
        out.append({**fold.to_dict(), "runs": sum(r.fold == fold.number for r in records),
                    "completed": len(metas), **splits, "runs_agree": agree})
    return out


def _split(data: DataInfo, name: str) -> dict | None:
    return getattr(data, name).to_json() if data.has(name) else None


def _write_outputs(result: Phase1Result, settings: BenchSettings, per_fold: list) -> None:
    out = settings.output_dir
    files = {"results": out / RESULTS_FILE, "report": out / REPORT_FILE, "html": out / HTML_FILE}
    if result.summary is not None:
        heading = title(result.results["settings"], result.results["data"]["synthetic"])
        files["plot"] = plot_comparison(result.summary, out / PLOT_FILE, heading,
                                        f"{settings.days:g} days, {settings.epochs} epochs")
    result.results["files"] = {k: str(v) for k, v in files.items()}
    report = render(result.results, result.summary, result.decision, result.records, per_fold,
                    PLOT_FILE if "plot" in files else None)
    if settings.notes:
        report += "\n## Notes\n\n" + "\n".join(f"- {n}" for n in settings.notes) + "\n"
    _atomic_write(files["report"], report)
    from atb.reports.phase1 import write_phase1_report  # plotly and jinja2: deferred, only when a report is written

    write_phase1_report(files["html"], result.results, result.summary, result.decision, result.records, per_fold)
    _atomic_write(files["results"], dumps(result.results) + "\n")
    result.files = files


def _record(settings: BenchSettings, result: Phase1Result) -> int | None:
    if not settings.log_to_db:
        return None
    try:
        from atb.tracking import record_benchmark  # sqlalchemy: deferred, and optional
    except ImportError:  # the run log is optional; the files are the benchmark's record
        return None
    versions = [r.version_id for r in result.records if r.version_id]
    decision = (result.decision.headline if result.decision else
                f"no decision: {result.results['error'] or 'no run completed'}")
    return record_benchmark(result.results["settings"], to_jsonable(result.results), decision, versions,
                            result.status)


def _status(records: list[RunRecord], planned: int, interrupted: bool) -> str:
    if interrupted:
        return "interrupted"
    done = sum(r.ok for r in records)
    return "completed" if done == planned else "failed" if done == 0 else "partial"


def _data_info(settings: BenchSettings, entries: dict, records: list[RunRecord], last_candle) -> dict:
    meta = next((entries[r.index].metadata for r in records if r.index in entries), VersionMetadata())
    return {"source": meta.data.source or settings.data_source,
            "synthetic": settings.data_source == "synthetic",
            "device": meta.training_params.device,
            "last_candle": None if last_candle is None else last_candle.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"--output-dir {folder}: cannot write there ({exc.strerror or exc})") from None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
