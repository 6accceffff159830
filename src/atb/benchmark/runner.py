"""Running the plan: one in-process train_model call per run; a failed run is recorded and the next one starts."""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Protocol

from atb.benchmark.plan import RunSpec, train_request
from atb.benchmark.settings import BenchSettings
from atb.errors import AtbError
from atb.registry.metadata import VersionMetadata
from atb.training.pipeline import Reporter, SilentReporter, train_model

HEADLINE_EVALUATION = ("test_rmse", "test_mae", "mape", "directional_accuracy", "directional_accuracy_ci95",
                       "naive_test_rmse", "rmse_skill_vs_naive", "test_windows")
HEADLINE_PERFORMANCE = ("training_time_s", "inference_ms_p50", "parameters", "peak_rss_mb")


@dataclass
class RunRecord:
    index: int
    architecture: str
    variant: str
    seed: int
    fold: int
    status: str  # "completed", "failed" or "interrupted"
    error: str | None = None
    version_id: str | None = None
    version_dir: str | None = None
    metadata_path: str | None = None
    wall_s: float = 0.0
    test_start: str | None = None
    test_end: str | None = None
    metrics: dict = field(default_factory=dict)
    traceback: str | None = None  # only for unexpected exceptions (bugs), not for AtbError
    features: str | None = None  # an ablation's feature set (RunSpec.features)

    @property
    def label(self) -> str:
        return f"{self.architecture} ({self.variant})"

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def to_dict(self) -> dict:
        return asdict(self)


class Observer(Protocol):
    def run_started(self, spec: RunSpec, total: int) -> Reporter: ...
    def run_finished(self, spec: RunSpec, total: int, record: RunRecord) -> None: ...


class SilentObserver:
    def run_started(self, spec: RunSpec, total: int) -> Reporter:
        return SilentReporter()

    def run_finished(self, spec: RunSpec, total: int, record: RunRecord) -> None:
        pass


class Interrupted(Exception):
    """Ctrl-C during a run: carries what finished so that the partial results can still be written."""

    def __init__(self, records: list[RunRecord]):
        super().__init__("interrupted by the user")
        self.records = records


def run_plan(settings: BenchSettings, plan: list[RunSpec], observer: Observer | None = None,
             executor=None) -> list[RunRecord]:
    """Every run of the plan, in plan order. With --workers K > 1 or --ray (or an explicit executor) the runs go
    to worker processes or Ray tasks (benchmark.executors); else they run here, one after another."""
    observer = observer or SilentObserver()
    if executor is None and (settings.workers > 1 or settings.ray_address):
        from atb.benchmark.executors import make_executor  # deferred: executors imports this module

        executor = make_executor(settings)
    if executor is not None:
        from atb.benchmark.executors import run_parallel

        return run_parallel(settings, plan, observer, executor)
    records: list[RunRecord] = []
    for spec in plan:
        reporter = observer.run_started(spec, len(plan))
        record = RunRecord(spec.index, spec.model.architecture, spec.model.variant, spec.seed, spec.fold,
                           status="failed", features=spec.features)
        t0 = time.perf_counter()
        try:
            outcome = train_model(train_request(settings, spec), reporter)
        except KeyboardInterrupt:
            record.status, record.error = "interrupted", "interrupted by the user"
            records.append(record)
            _close(reporter)
            raise Interrupted(records) from None
        except AtbError as exc:  # bad data or arguments for this run: its message is the whole story
            record.error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug in one architecture must not cost the others their results
            record.error = f"{type(exc).__name__}: {exc}"
            record.traceback = traceback.format_exc()
        else:
            fill_record(record, outcome.version_dir, outcome.metadata)
        finally:
            record.wall_s = time.perf_counter() - t0
        _close(reporter)
        records.append(record)
        observer.run_finished(spec, len(plan), record)
    return records


def fill_record(record: RunRecord, version_dir, meta: VersionMetadata) -> None:
    """A completed run's record, from its version's metadata (also an ensemble's: benchmark.ensembles)."""
    ev, perf = meta.evaluation_results, meta.performance
    record.status = "completed"
    record.version_id = meta.version_id
    record.version_dir = str(version_dir)
    record.metadata_path = str(version_dir / "metadata.json")
    record.test_start, record.test_end = meta.data.test.start, meta.data.test.end
    record.metrics = {k: getattr(ev, k) for k in HEADLINE_EVALUATION if ev.has(k)}
    record.metrics["dm_vs_naive_p"] = ev.dm_vs_naive.p_value
    record.metrics.update({k: getattr(perf, k) for k in HEADLINE_PERFORMANCE if perf.has(k)})
    record.metrics["epochs_run"] = meta.training_params.epochs_run


def _close(reporter: Reporter) -> None:
    # A run that failed mid-fit leaves its progress display open; close it so the next run starts clean.
    finish = getattr(reporter, "close", None)
    if callable(finish):
        finish()
