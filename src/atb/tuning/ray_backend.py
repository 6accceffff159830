"""The search on an existing Ray cluster (`--ray ADDRESS` or RAY_ADDRESS): Ray Tune runs the trials, Optuna's TPE
proposes them (ray.tune.search.optuna.OptunaSearch, seeded) and ASHA stops the poor ones on the per-epoch
validation MSE. Connection and code shipping: atb.cluster. Each trial reads the validation split only and reports
plain numbers back; the driver copies every finished trial into the study's own storage (so `atb tune show` and a
resumed study see them) and alone publishes the winner and writes the run log.

Faults: a trial whose worker dies is retried from scratch (Tune's FailureConfig(max_failures=2)); one that still
fails is recorded as failed, and the search goes on."""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from atb.config import data_dir
from atb.errors import AtbError, UsageError
from atb.tuning import space
from atb.tuning import study as studies
from atb.tuning.local import SearchPlan
from atb.tuning.objective import ATTR_HOST, ATTR_PID
from atb.tuning.settings import TuneSettings

log = logging.getLogger(__name__)

METRIC = "val_mse"
MAX_FAILURES = 2  # retries of a trial whose worker was lost
GRACE_EPOCHS = 2  # ASHA never stops a trial before this many epochs
REDUCTION_FACTOR = 3
SCHEDULER_NAME = f"ASHA (grace {GRACE_EPOCHS} epochs, reduction factor {REDUCTION_FACTOR}, on the validation MSE)"


def trainable(config: dict, settings: dict, env: dict) -> None:
    """One Ray Tune trial (runs on a worker): fit the configuration, report the validation MSE per epoch."""
    from ray import tune

    from atb.tuning.objective import PruningReporter, fit_trial

    for key, value in env.items():
        if key == "ATB_DATA_DIR" and not Path(value).parent.exists():
            value = tempfile.mkdtemp(prefix="atb-data-")  # another machine: a cache of its own
        os.environ[key] = value
    st = TuneSettings.from_dict(settings)
    reporter = PruningReporter(lambda v, step: tune.report({METRIC: v, "epoch": step}), lambda: False, RuntimeError)
    value, attrs = fit_trial(space.from_params(config, st.architecture), st, reporter)
    tune.report({METRIC: value, "finished": 1, "epoch": attrs["epochs_run"], ATTR_PID: os.getpid(),
                 **{k: v for k, v in attrs.items() if v is not None}})


def run_ray(plan: SearchPlan, address: str, *, cpus_per_trial: float = 1, gpus_per_trial: float = 0,
            on_trial: Callable | None = None, max_concurrent: int | None = None) -> dict:
    """Run the missing trials of the study on the cluster; the trials land in the study's storage. Returns timing
    facts: {"trials", "wall_s", "fit_s"} (submit-to-result overhead per trial = (wall_s - fit_s) / trials with one
    trial at a time)."""
    if cpus_per_trial <= 0 or gpus_per_trial < 0:
        raise UsageError(f"--cpus-per-trial must be positive and --gpus-per-trial >= 0 (got {cpus_per_trial}, "
                         f"{gpus_per_trial})")
    from atb.cluster import connect

    connect(address)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no progress tables of Tune's own
    # Ctrl-C is atb's (finished trials are already stored by the recorder; exit 130), not Tune's graceful stop.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    # Deferred: Ray Tune and Optuna load only for a Ray search.
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from atb.tuning.ray_recorder import StudyRecorder

    threads = max(1, int(cpus_per_trial))
    settings = replace(plan.settings, threads=threads, device="cuda" if gpus_per_trial > 0 else plan.settings.device)
    study = studies.open_study(plan.study, plan.storage, plan.settings)
    missing = plan.trials - studies.finished(study)
    if missing <= 0:
        return {"trials": 0, "wall_s": 0.0, "fit_s": 0.0}
    known = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    searcher = OptunaSearch(
        # As distributions (every space is static: no parameter depends on another), which OptunaSearch accepts
        # together with the resumed study's evaluated points (a define-by-run function it does not).
        space=space_distributions(plan.settings.architecture), metric=METRIC, mode="min",
        sampler=studies.sampler(plan.settings.seed),
        points_to_evaluate=[dict(t.params) for t in known] or None,
        evaluated_rewards=[t.value for t in known] or None,
    )
    # One report per epoch, then the final one: max_t beyond the last epoch, so that ASHA never ends a trial on
    # its budget before that final report (which carries the objective and the validation Sharpe).
    scheduler = ASHAScheduler(time_attr="training_iteration", max_t=plan.settings.epochs + 2,
                              grace_period=GRACE_EPOCHS, reduction_factor=REDUCTION_FACTOR)
    recorder = StudyRecorder(lambda params, metrics, history, error: _record(
        study, params, metrics, history, error, plan.settings), METRIC, on_trial)
    env = {"ATB_DATA_DIR": str(data_dir().absolute())}
    resources = {"cpu": cpus_per_trial, **({"gpu": gpus_per_trial} if gpus_per_trial else {})}
    runner = tune.with_resources(tune.with_parameters(trainable, settings=settings.to_dict(), env=env), resources)
    tuner = tune.Tuner(
        runner,
        tune_config=tune.TuneConfig(metric=METRIC, mode="min", search_alg=searcher, scheduler=scheduler,
                                    num_samples=missing, max_concurrent_trials=max_concurrent,
                                    time_budget_s=plan.timeout_s),
        run_config=tune.RunConfig(name=f"{plan.study}-{int(time.time())}",
                                  storage_path=str((data_dir() / "ray_results").absolute()), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=MAX_FAILURES),
                                  callbacks=[recorder]),
    )
    start = time.perf_counter()
    try:
        grid = tuner.fit()
    except Exception as exc:  # Tune's own errors (a bad resource request, a lost head): one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise AtbError(f"the Ray Tune search failed: {first}") from None
    wall = time.perf_counter() - start
    fit_s = sum(float(t.user_attrs.get("fit_seconds") or 0.0) for t in recorder.trials)
    return {"trials": len(grid), "wall_s": wall, "fit_s": fit_s}


def space_distributions(architecture: str) -> dict:
    """The architecture's search space as {param: Optuna distribution}, read from one draw."""
    import optuna

    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    space.suggest(trial, architecture)
    return dict(trial.distributions)


def distributions(params: dict, architecture: str) -> dict:
    """The Optuna distributions of a configuration's params (to store a Ray trial in the study)."""
    import optuna

    scratch = optuna.create_study()
    scratch.enqueue_trial(params)
    trial = scratch.ask()
    space.suggest(trial, architecture)
    return trial.distributions


def _record(study, params: dict, metrics: dict, history: dict, error: str | None, settings: TuneSettings):
    """Store one ended Ray trial in the study: complete, pruned (stopped by ASHA) or failed."""
    import optuna
    from optuna.trial import TrialState

    if not params:
        return None
    attrs = {k: metrics[k] for k in ("val_sharpe", "val_sharpe_zero_threshold", "epochs_run", "best_epoch", "seed",
                                     "batch_size_used", "fit_seconds", ATTR_HOST, ATTR_PID) if k in metrics}
    attrs["backend"] = "ray"
    system = {}
    if error is not None:
        state, value = TrialState.FAIL, None
        system["fail_reason"] = (error.strip().splitlines() or ["error"])[-1][:300]
    elif metrics.get("finished"):
        state, value = TrialState.COMPLETE, float(metrics[METRIC])
    else:
        state, value = TrialState.PRUNED, None
    frozen = optuna.trial.create_trial(state=state, value=value, params=params,
                                       distributions=distributions(params, settings.architecture),
                                       user_attrs=attrs, system_attrs=system,
                                       intermediate_values={k: v for k, v in history.items() if math.isfinite(v)})
    study.add_trial(frozen)
    return study.trials[-1]
