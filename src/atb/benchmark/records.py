"""What the benchmark's runs produce and how their progress is observed: a run's record, the observer protocol
the CLI implements, and the interruption that carries what finished. No torch here: the reports read records."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

from atb.registry.metadata import VersionMetadata

if TYPE_CHECKING:
    from atb.benchmark.plan import RunSpec
    from atb.training.pipeline import Reporter

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
        from atb.training.pipeline import SilentReporter  # deferred: the pipeline brings pandas and the models

        return SilentReporter()

    def run_finished(self, spec: RunSpec, total: int, record: RunRecord) -> None:
        pass


class Interrupted(Exception):
    """Ctrl-C during a run: carries what finished so that the partial results can still be written."""

    def __init__(self, records: list[RunRecord]):
        super().__init__("interrupted by the user")
        self.records = records


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
