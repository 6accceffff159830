"""Creating, resuming and counting a study (Optuna), with atb's sampler and pruner.

Sampler: TPE, seeded by --seed (a re-run with one worker makes the same proposals; worker k of K uses seed + k).
Pruner: Optuna's MedianPruner on the per-epoch validation MSE (best so far): after 4 finished trials and from
the end of epoch 2 on (epoch 1 is never pruned), a trial whose best validation MSE is worse than the median of the
earlier trials at the same epoch stops. Median rather than Hyperband: with 20-50 trials of at most --epochs epochs,
Hyperband's brackets leave few trials per bracket, and the median rule needs no budget settings."""

from __future__ import annotations

from atb.errors import UsageError
from atb.tuning.settings import TuneSettings, check_same_objective
from atb.tuning.storage import StorageSpec, open_storage

PRUNER_NAME = "median (n_startup_trials=4, n_warmup_steps=2: from epoch 2, on the best validation MSE so far)"
SETTINGS_ATTR = "atb_settings"  # study user attr: TuneSettings.to_dict() of the run that created the study
STARTUP_TRIALS = 4
WARMUP_EPOCHS = 2


def sampler(seed: int):
    import optuna  # deferred: optuna takes ~0.5 s to import

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP_TRIALS)


def pruner():
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=WARMUP_EPOCHS)


def open_study(name: str, spec: StorageSpec, settings: TuneSettings | None = None, *, seed: int | None = None,
               create: bool = True):
    """The study `name` (created when `create`, with `settings` recorded; a resumed one must have the same
    objective)."""
    import optuna

    # The CLI reports trials itself, a failed one as one line with its reason (Optuna would log a traceback).
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if not create and spec.url is None and not spec.path.exists():
        raise UsageError(f"no study {name!r}: {spec.path} does not exist (give --storage where it is kept)")
    storage = open_storage(spec)
    seed = settings.seed if seed is None and settings is not None else (seed or 0)
    if not create:
        try:
            return optuna.load_study(study_name=name, storage=storage, sampler=sampler(seed), pruner=pruner())
        except KeyError:
            names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
            raise UsageError(f"no study {name!r} in {spec.label}"
                             + (f"; it has: {', '.join(names)}" if names else "")) from None
    study = optuna.create_study(study_name=name, storage=storage, sampler=sampler(seed), pruner=pruner(),
                                direction="minimize", load_if_exists=True)
    if settings is not None:
        recorded = study.user_attrs.get(SETTINGS_ATTR)
        check_same_objective(recorded, settings, name)
        if recorded is None:
            study.set_user_attr(SETTINGS_ATTR, settings.to_dict())
    return study


def finished(study) -> int:
    """Trials that count towards --trials: complete and pruned (a failed trial is retried)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def counts(study) -> dict[str, int]:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    return {state.name.lower(): sum(t.state == state for t in trials)
            for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)}


def fail_running(study, pids: set[int] | None = None, reason: str = "its worker process died") -> list[int]:
    """Mark RUNNING trials failed (those of the given worker pids; all when None); their numbers."""
    from optuna.trial import TrialState

    from atb.tuning.objective import ATTR_PID

    done = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if pids is not None and trial.user_attrs.get(ATTR_PID) not in pids:
            continue
        try:
            study._storage.set_trial_system_attr(trial._trial_id, "fail_reason", reason)
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except RuntimeError:  # it finished meanwhile
            continue
        done.append(trial.number)
    return done
