"""Running trials on this machine: in this process (--workers 1) or in K worker processes that share the study's
journal file. Torch threads per worker = cores / K (or --threads). A worker that dies mid-trial (killed, out of
memory) has its running trial marked failed by the parent, which starts a replacement; the study goes on."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from atb.registry.store import process_alive
from atb.tuning import study as studies
from atb.tuning.objective import ATTR_HOST, ATTR_PID, optuna_objective
from atb.tuning.settings import TuneSettings
from atb.tuning.storage import StorageSpec, resolve

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_FAILURES = 3  # a configuration error fails every trial: stop instead of burning the budget
POLL_S = 0.5


@dataclass(frozen=True)
class SearchPlan:
    study: str
    storage: StorageSpec
    settings: TuneSettings
    trials: int  # the study's target of finished (complete + pruned) trials
    timeout_s: float | None = None
    workers: int = 1


def threads_per_worker(workers: int, threads: int | None) -> int:
    return threads or max(1, (os.cpu_count() or 1) // workers)


def run_local(plan: SearchPlan, on_trial: Callable | None = None) -> None:
    """Run trials until the study has plan.trials finished ones (or the timeout); KeyboardInterrupt propagates
    after every finished trial is stored and the running ones are marked failed."""
    settings = replace(plan.settings, threads=threads_per_worker(plan.workers, plan.settings.threads))
    study = studies.open_study(plan.study, plan.storage, settings)
    fail_stale(study)
    if plan.workers <= 1:
        _work(study, settings, plan.trials, _deadline(plan.timeout_s), on_trial)
        return
    _run_processes(plan, settings, study, on_trial)


def fail_stale(study) -> list[int]:
    """RUNNING trials of this host whose process is gone (an earlier run that was killed): marked failed."""
    host = socket.gethostname()
    stale = {t.user_attrs.get(ATTR_PID) for t in study.get_trials(deepcopy=False)
             if t.state.name == "RUNNING" and t.user_attrs.get(ATTR_HOST) == host
             and not _alive(t.user_attrs.get(ATTR_PID))}
    return studies.fail_running(study, {p for p in stale if p is not None}, "its process is gone") if stale else []


def _alive(pid) -> bool:
    return isinstance(pid, int) and process_alive(pid)


def _deadline(timeout_s: float | None) -> float | None:
    return None if timeout_s is None else time.monotonic() + timeout_s


def _work(study, settings: TuneSettings, target: int, deadline: float | None, on_trial: Callable | None) -> None:
    """One worker's loop: a trial at a time while the study needs more (finished + running elsewhere < target)."""
    from optuna.trial import TrialState

    objective = optuna_objective(settings)
    failures = 0
    while True:
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if studies.finished(study) + running >= target or (deadline is not None and time.monotonic() >= deadline):
            return
        study.optimize(objective, n_trials=1, catch=(Exception,))
        last = study.trials[-1] if study.trials else None
        mine = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get(ATTR_PID) == os.getpid()]
        last = mine[-1] if mine else last
        if on_trial is not None and last is not None:
            on_trial(last)
        failures = failures + 1 if last is not None and last.state == TrialState.FAIL else 0
        if failures >= MAX_CONSECUTIVE_FAILURES:
            reason = last.system_attrs.get("fail_reason", "see the log")
            from atb.errors import AtbError

            raise AtbError(f"{failures} trials in a row failed; the last: {reason}")


def worker_main(study_name: str, storage: str, settings: dict, target: int, deadline_in_s: float | None,
                seed: int) -> None:
    """A worker process's entry point (spawned: it imports torch itself)."""
    import signal
    import sys

    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGINT, _stop_once)
    try:
        st = TuneSettings.from_dict(settings)
        study = studies.open_study(study_name, resolve(storage, study_name), st, seed=seed)
        _work(study, st, target, _deadline(deadline_in_s), None)
    except KeyboardInterrupt:
        sys.exit(130)  # optuna has already marked the running trial failed; no traceback
    except Exception as exc:  # one line to the parent's stderr, not a traceback
        print(f"error: worker {os.getpid()}: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


def _stop_once(signum: int, frame: object) -> None:
    """A terminal's Ctrl-C reaches the worker and its driver, and the driver passes one on: stop at the first, and
    let none of the others cut the exit short (a traceback from the interpreter's shutdown otherwise)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _run_processes(plan: SearchPlan, settings: TuneSettings, study, on_trial: Callable | None) -> None:
    import multiprocessing as mp
    import signal

    from atb.errors import AtbError

    ctx = mp.get_context("spawn")  # a fresh interpreter: no forked torch thread pools
    deadline = _deadline(plan.timeout_s)
    seen: set[int] = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    procs: dict[int, object] = {}
    started = 0
    max_starts = plan.workers * 3

    def start(index: int) -> None:
        nonlocal started
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        proc = ctx.Process(target=worker_main, name=f"atb-tune-{index}", daemon=False,
                           args=(plan.study, plan.storage.to_arg(), settings.to_dict(), plan.trials, left,
                                 settings.seed + index))
        proc.start()
        procs[index] = proc
        started += 1

    try:
        for index in range(plan.workers):
            start(index)
        while procs:
            time.sleep(POLL_S)
            _report_new(study, seen, on_trial)
            for index, proc in list(procs.items()):
                if proc.is_alive():
                    continue
                proc.join()
                del procs[index]
                if proc.exitcode == 0:
                    continue
                failed = studies.fail_running(study, {proc.pid}, f"worker process exited with {proc.exitcode}")
                log.warning("worker %s (pid %s) exited with %s; trial(s) %s marked failed", index, proc.pid,
                            proc.exitcode, failed or "none")
                _report_new(study, seen, on_trial)
                if started >= max_starts:
                    raise AtbError(f"{started} worker processes started and {started - len(procs)} ended; "
                                   "giving up (see the errors above)")
                if studies.finished(study) < plan.trials and (deadline is None or time.monotonic() < deadline):
                    start(started)
    except KeyboardInterrupt:
        for proc in procs.values():
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGINT)
        for proc in procs.values():
            proc.join(timeout=20)
            if proc.is_alive():
                proc.kill()
                proc.join()
        studies.fail_running(study, {p.pid for p in procs.values()}, "interrupted")
        raise
    _report_new(study, seen, on_trial)


def _report_new(study, seen: set[int], on_trial: Callable | None) -> None:
    for trial in study.get_trials(deepcopy=False):
        if trial.state.is_finished() and trial.number not in seen:
            seen.add(trial.number)
            if on_trial is not None:
                on_trial(trial)


__all__ = ["SearchPlan", "run_local", "worker_main", "threads_per_worker", "fail_stale", "ATTR_PID"]
