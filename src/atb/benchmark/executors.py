"""Where a benchmark's training runs execute: in this process (runner.run_plan's serial loop, the default), in
worker processes on this machine (`--workers K`), or as Ray tasks on an existing cluster (`--ray ADDRESS`).

A worker never publishes: it trains into a private staging registry (`<models_dir>/.workers-<pid>-<id>/run-<n>/`,
on the registry's own disk, so that the final rename is atomic; a temporary folder on a Ray node, whose files
come back in the result) with the run log off, and returns what it made. The driver alone moves each finished
version into the registry (ModelStore.publish: an atomic rename, then `latest`) and writes the run log, so the
registry and the database see one writer whatever K is.

A local worker that dies (killed, out of memory) breaks its concurrent.futures pool: the run it was running is
recorded as failed, and the runs the pool lost with it are resubmitted to a fresh pool. A Ray worker lost
mid-task is retried by Ray (max_retries); a run that raises is a failed run on either path, never retried.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from atb.benchmark.plan import RunSpec, train_request
from atb.benchmark.records import Interrupted, Observer, RunRecord, fill_record
from atb.benchmark.settings import BenchSettings
from atb.config import models_dir as default_models_dir
from atb.errors import AtbError
from atb.registry.metadata import VersionMetadata
from atb.registry.store import ModelStore, read_metadata
from atb.training.request import TrainRequest

log = logging.getLogger(__name__)

PID_FILE = "worker.pid"
RAY_MAX_RETRIES = 3  # a lost Ray worker (node died, OOM-killed) is retried this often


@dataclass
class Job:
    spec: RunSpec
    request: TrainRequest  # log_to_db off, models_dir the worker's own staging registry (None on Ray)


@dataclass
class JobResult:
    index: int
    status: str  # "completed" or "failed"
    wall_s: float = 0.0
    error: str | None = None
    traceback: str | None = None
    folder: str | None = None  # the registry folder (BTCUSDT, BTCUSDT-SYNTHETIC)
    name: str | None = None  # the version folder's name in the staging registry
    path: str | None = None  # local workers: the finished version folder, on the registry's disk
    files: dict[str, bytes] = field(default_factory=dict)  # Ray: the version folder's files


OnResult = Callable[[JobResult], None]
Work = Callable[[Job], JobResult]


class Executor(Protocol):
    def run(self, jobs: list[Job], on_result: OnResult) -> None:
        """Run every job, calling on_result (in this process) as each one finishes, in any order."""
        ...


# --- the work unit (runs in the worker) ------------------------------------------------------------

def run_job(job: Job) -> JobResult:
    """Train one run into the job's private staging registry; never publish, never log to the database."""
    from atb.training.pipeline import train_model  # deferred: torch loads in the worker, not the driver

    t0 = time.perf_counter()
    stage = Path(job.request.models_dir)
    stage.mkdir(parents=True, exist_ok=True)
    (stage / PID_FILE).write_text(str(os.getpid()))  # which process ran it, should that process die
    request = replace(job.request, log_to_db=False)
    try:
        outcome = train_model(request)
    except AtbError as exc:  # bad data or arguments for this run: its message is the whole story
        return JobResult(job.spec.index, "failed", time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug in one architecture must not cost the others their results
        return JobResult(job.spec.index, "failed", time.perf_counter() - t0, f"{type(exc).__name__}: {exc}",
                         traceback.format_exc())
    folder = outcome.version_dir.parent.parent.name
    return JobResult(job.spec.index, "completed", time.perf_counter() - t0, folder=folder,
                     name=outcome.version_dir.name, path=str(outcome.version_dir))


def run_job_returning_files(job: Job, work: Work = run_job) -> JobResult:
    """The Ray task: train in a temporary folder of the node and send the version's files back."""
    stage = Path(tempfile.mkdtemp(prefix="atb-ray-run-"))
    try:
        result = work(Job(job.spec, replace(job.request, models_dir=stage)))
        if result.status == "completed":
            version = Path(result.path)
            result.files = {p.name: p.read_bytes() for p in sorted(version.iterdir()) if p.is_file()}
            result.path = None
        return result
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _init_worker() -> None:
    # Ctrl-C reaches the whole process group: the driver alone handles it (and terminates the workers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# --- executors --------------------------------------------------------------------------------------

class ProcessExecutor:
    """`--workers K`: K spawned worker processes (spawn, not fork: torch and its thread pools do not survive a
    fork). A worker that dies fails the run it was running; the pool's other lost runs go to a fresh pool."""

    def __init__(self, workers: int, work: Work = run_job):
        self.workers = workers
        self.work = work

    def run(self, jobs: list[Job], on_result: OnResult) -> None:
        todo = list(jobs)
        while todo:
            todo = self._round(todo, on_result)

    def _round(self, jobs: list[Job], on_result: OnResult) -> list[Job]:
        """Run the jobs in one pool; returns those to resubmit when the pool broke."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(jobs)),
                                   mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker)
        futures = {pool.submit(self.work, job): job for job in jobs}
        processes = getattr(pool, "_processes", None)  # pid -> Process: to tell a dead worker from the rest
        finished: set[int] = set()
        broken = False
        try:
            for future in as_completed(futures):
                job = futures[future]
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken = True
                    break
                except Exception as exc:  # the job could not be sent or its result not returned
                    result = JobResult(job.spec.index, "failed", error=f"{type(exc).__name__}: {exc}")
                finished.add(job.spec.index)
                on_result(result)
        except BaseException:  # Ctrl-C or SIGTERM: stop the workers now, the caller writes what finished
            for process in list((processes or {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        if not broken:
            pool.shutdown(wait=True)
            return []
        pool.shutdown(wait=True)  # joins the workers: their exit codes are known from here on
        for future, job in futures.items():  # results that came in while the pool was breaking
            if job.spec.index not in finished and future.done() and future.exception() is None:
                finished.add(job.spec.index)
                on_result(future.result())
        lost = [job for job in jobs if job.spec.index not in finished]
        dead = _dead_runs(lost, processes)
        for job, pid, code in dead:
            on_result(JobResult(job.spec.index, "failed", error=f"worker process {pid} died (exit code {code}) "
                                                                "during this run"))
        dead_ids = {job.spec.index for job, _, _ in dead}
        rest = [job for job in lost if job.spec.index not in dead_ids]
        for job in rest:  # a fresh start in the next pool: its old worker's pid must not speak for the new one
            (Path(job.request.models_dir) / PID_FILE).unlink(missing_ok=True)
        log.warning("a worker process died: %d run(s) failed, %d resubmitted to a fresh pool", len(dead), len(rest))
        return rest


def _dead_runs(lost: list[Job], processes: dict | None) -> list[tuple[Job, int | None, int | None]]:
    """The lost runs whose own worker died (not one the broken pool terminated afterwards, exit code -SIGTERM).
    When that cannot be told, every started lost run counts as dead: a run that kills its worker must never be
    resubmitted forever."""
    started = []
    for job in lost:
        pid_file = Path(job.request.models_dir) / PID_FILE
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            continue  # never started: resubmit
        process = (processes or {}).get(pid)
        started.append((job, pid, None if process is None else process.exitcode))
    dead = [s for s in started if s[2] is not None and s[2] != -signal.SIGTERM]
    return dead or started


class RayExecutor:
    """`--ray ADDRESS`: one Ray task per run (num_cpus/num_gpus per task), retried when its worker is lost."""

    def __init__(self, address: str, cpus: float = 1, gpus: float = 0, max_retries: int = RAY_MAX_RETRIES,
                 task: Work = run_job_returning_files):
        self.address, self.cpus, self.gpus, self.max_retries = address, cpus, gpus, max_retries
        self.task = task

    def run(self, jobs: list[Job], on_result: OnResult) -> None:
        from atb.cluster import connect  # deferred: ray takes seconds to import

        ray = connect(self.address)
        task = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=self.max_retries)(self.task)
        refs = {task.remote(job): job for job in jobs}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # retries spent, or the task could not run at all
                        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                        result = JobResult(refs[ref].spec.index, "failed", error=f"{type(exc).__name__}: {first}")
                    on_result(result)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise


def make_executor(settings: BenchSettings) -> Executor | None:
    """None: the serial in-process loop (workers 1, no Ray)."""
    if settings.ray_address:
        return RayExecutor(settings.ray_address, settings.cpus_per_run or 1, settings.gpus_per_run or 0)
    if settings.workers > 1:
        return ProcessExecutor(settings.workers)
    return None


def threads_per_worker(settings: BenchSettings) -> int:
    """--threads, else cores / workers (Ray: the CPUs each task asked for)."""
    if settings.threads is not None:
        return settings.threads
    if settings.ray_address:
        return max(1, int(settings.cpus_per_run or 1))
    from atb.training.device import available_cores  # torch: the driver needs it only here

    return max(1, available_cores() // settings.workers)


# --- the driver -------------------------------------------------------------------------------------

def run_parallel(settings: BenchSettings, plan: list[RunSpec], observer: Observer, executor: Executor
                 ) -> list[RunRecord]:
    """Submit every run; publish and log each finished one here, as it arrives; records in plan order."""
    store = ModelStore(settings.models_dir or default_models_dir())
    store.root.mkdir(parents=True, exist_ok=True)
    scratch = store.root.absolute() / f".workers-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    threads = threads_per_worker(settings)
    by_index = {spec.index: spec for spec in plan}
    # Absolute paths: a Ray worker does not run in this directory.
    data_file = str(Path(settings.data_file).absolute()) if settings.data_file else None
    jobs = [Job(spec, replace(train_request(settings, spec), threads=threads, log_to_db=False, data_file=data_file,
                              models_dir=scratch / f"run-{spec.index}")) for spec in plan]
    records: dict[int, RunRecord] = {}

    def on_result(result: JobResult) -> None:
        spec = by_index[result.index]
        record = RunRecord(spec.index, spec.model.architecture, spec.model.variant, spec.seed, spec.fold,
                           status="failed", features=spec.features, wall_s=result.wall_s)
        if result.status == "completed":
            try:
                version_dir, meta = _publish(store, result)
            except (AtbError, OSError) as exc:
                record.error = f"{type(exc).__name__}: {exc}"
            else:
                fill_record(record, version_dir, meta)
                if settings.log_to_db:
                    log_completed_run(meta)
        else:
            record.error, record.traceback = result.error, result.traceback
        records[spec.index] = record
        reporter = observer.run_started(spec, len(plan))
        close = getattr(reporter, "close", None)
        if callable(close):
            close()
        observer.run_finished(spec, len(plan), record)

    try:
        executor.run(jobs, on_result)
    except KeyboardInterrupt:  # the finished runs are kept (and written by the caller); the rest never ran
        raise Interrupted([records[i] for i in sorted(records)]) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [records[i] for i in sorted(records)]


def _publish(store: ModelStore, result: JobResult) -> tuple[Path, VersionMetadata]:
    """Move a finished version into the registry (atomic rename; `latest` follows) and read its metadata."""
    store.price_dir(result.folder).mkdir(parents=True, exist_ok=True)
    if result.path is not None:
        version_dir = store.publish(result.folder, Path(result.path), result.name)
    else:
        with store.staging(result.folder) as staged:
            for name, data in result.files.items():
                (staged / name).write_bytes(data)
            version_dir = store.publish(result.folder, staged, result.name)
    return version_dir, read_metadata(version_dir)


def log_completed_run(meta: VersionMetadata) -> None:
    """The run log's row for a run trained elsewhere: completed from its metadata, then its epochs."""
    from atb.tracking import open_run_log  # deferred: SQLAlchemy

    run_log = open_run_log(enabled=True)
    run_log.complete(meta)
    for h in meta.training_history:
        run_log.epoch(h.epoch, h.train_loss, h.val_loss, h.lr, h.seconds)
