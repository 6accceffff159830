"""Running the plan: one in-process train_model call per run (or, with --workers/--ray, the executors'); a failed
run is recorded and the next one starts."""

from __future__ import annotations

import time
import traceback

from atb.benchmark.plan import RunSpec, train_request
from atb.benchmark.records import Interrupted, Observer, RunRecord, SilentObserver, fill_record
from atb.benchmark.settings import BenchSettings
from atb.errors import AtbError
from atb.training.pipeline import Reporter, train_model


def run_plan(settings: BenchSettings, plan: list[RunSpec], observer: Observer | None = None,
             executor=None) -> list[RunRecord]:
    """Every run of the plan, in plan order. With --workers K > 1 or --ray (or an explicit executor) the runs go
    to worker processes or Ray tasks (benchmark.executors); else they run here, one after another."""
    observer = observer or SilentObserver()
    if executor is None and (settings.workers > 1 or settings.ray_address):
        from atb.benchmark.executors import make_executor  # deferred: worker processes and Ray, only when asked

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


def _close(reporter: Reporter) -> None:
    # A run that failed mid-fit leaves its progress display open; close it so the next run starts clean.
    finish = getattr(reporter, "close", None)
    if callable(finish):
        finish()
