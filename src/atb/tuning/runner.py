"""`atb tune run`, as a library call: check the request, run the search (here or on Ray), then score the winner."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from atb.errors import UsageError
from atb.models import registry as architectures
from atb.tuning import study as studies
from atb.tuning.finalize import Finalized, finalize
from atb.tuning.local import SearchPlan, run_local

log = logging.getLogger(__name__)


@dataclass
class TuneOutcome:
    study: str
    storage: str
    counts: dict[str, int]
    search_seconds: float
    finalized: Finalized | None  # None with --no-final
    backend: str  # "local" | "ray"


def check_arguments(plan: SearchPlan) -> None:
    """One-line UsageErrors for bad arguments (no data read)."""
    from atb.tuning.space import architecture_space

    architectures.get(plan.settings.architecture)
    architecture_space(plan.settings.architecture)
    if plan.trials < 1:
        raise UsageError(f"--trials must be at least 1 (got {plan.trials})")
    if plan.workers < 1:
        raise UsageError(f"--workers must be at least 1 (got {plan.workers})")
    if plan.timeout_s is not None and plan.timeout_s <= 0:
        raise UsageError(f"--timeout must be positive seconds (got {plan.timeout_s})")
    studies.open_study(plan.study, plan.storage, plan.settings)  # the storage opens; a resumed objective matches


def check_plan(plan: SearchPlan) -> SearchPlan:
    """check_arguments, then the data: a span that cannot be trained fails here, before any trial; fills
    settings.train_windows."""
    from atb.training.pipeline import prepare_data  # deferred: pandas and the feature stack

    check_arguments(plan)
    req = plan.settings.request(None)
    req.validate()
    _, dataset = prepare_data(req)  # loads the candles once (and fills the cache the workers read)
    return replace(plan, settings=replace(plan.settings, train_windows=len(dataset.anchors["train"])))


def tune(plan: SearchPlan, *, models_dir: Path | None = None, log_to_db: bool = True, ray_address: str | None = None,
         cpus_per_trial: float = 1, gpus_per_trial: float = 0, final: bool = True,
         on_trial: Callable | None = None, reporter=None) -> TuneOutcome:
    plan = check_plan(plan)
    start = time.perf_counter()
    if ray_address:
        from atb.tuning.ray_backend import run_ray  # deferred: ray takes seconds to import

        run_ray(plan, ray_address, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial, on_trial=on_trial)
    else:
        run_local(plan, on_trial)
    seconds = time.perf_counter() - start
    study = studies.open_study(plan.study, plan.storage, plan.settings)
    done = None
    if final:
        done = finalize(study, plan.study, plan.storage.label, plan.settings, models_dir=models_dir,
                        log_to_db=log_to_db, reporter=reporter)
    return TuneOutcome(plan.study, plan.storage.label, studies.counts(study), seconds, done,
                       "ray" if ray_address else "local")
