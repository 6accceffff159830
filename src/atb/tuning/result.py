"""Plain data about a study, for `atb tune show`, --json and the HTML report (another module renders it)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from atb.tuning import study as studies
from atb.tuning.storage import StorageSpec


def trial_counts(study) -> dict[str, int]:
    return studies.counts(study)


def study_summary(study_name: str, storage: StorageSpec) -> dict:
    """Everything `atb tune show` shows, as JSON-ready data. Keys (stable: the HTML report reads them):

    - ``study``, ``storage`` (label, no password), ``direction`` ("minimize"), ``objective`` (what the value is),
      ``settings`` (TuneSettings.to_dict() recorded when the study was created, or None)
    - ``counts``: {"complete", "pruned", "fail", "running"} -> int
    - ``trials``: one dict per trial, by number: ``number``, ``state`` (COMPLETE|PRUNED|FAIL|RUNNING|WAITING),
      ``value`` (validation MSE; for a pruned trial the last value it reported; None when failed or running),
      ``params`` (name -> value), ``datetime_start``, ``datetime_complete`` (ISO-8601 UTC or None),
      ``duration_s`` (or None), ``user_attrs`` (val_sharpe, val_sharpe_zero_threshold, pid, host, epochs_run,
      best_epoch, seed, batch_size_used, fit_seconds; backend="ray" for a Ray trial), ``intermediate``
      ({epoch: best validation MSE so far})
    - ``best``: None, or {"number", "value", "params", "user_attrs"}
    - ``importances``: {param: importance} (fANOVA-free default evaluator), {} with fewer than 2 complete trials
    - ``importances_note``: why importances are empty, or None
    """
    study = studies.open_study(study_name, storage, create=False)
    trials = [_trial(t) for t in study.get_trials(deepcopy=False)]
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    best = None
    if complete:
        b = study.best_trial
        best = {"number": b.number, "value": _num(b.value), "params": dict(b.params), "user_attrs": dict(b.user_attrs)}
    importances, note = _importances(study, len(complete))
    return {"study": study_name, "storage": storage.label, "direction": "minimize",
            "objective": "validation MSE of the scaled next-bar log return (lower is better)",
            "settings": study.user_attrs.get(studies.SETTINGS_ATTR), "counts": studies.counts(study),
            "trials": trials, "best": best, "importances": importances, "importances_note": note}


def _importances(study, n_complete: int) -> tuple[dict, str | None]:
    if n_complete < 2:
        return {}, f"{n_complete} complete trial(s): importances need at least 2"
    import optuna  # deferred: only when a study is shown

    try:
        values = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, ZeroDivisionError) as exc:
        return {}, f"importances could not be computed: {exc}"
    return {k: float(v) for k, v in values.items()}, None


def _trial(t) -> dict:
    return {"number": t.number, "state": t.state.name, "value": _num(t.value), "params": dict(t.params),
            "datetime_start": _iso(t.datetime_start), "datetime_complete": _iso(t.datetime_complete),
            "duration_s": t.duration.total_seconds() if t.duration is not None else None,
            "user_attrs": dict(t.user_attrs),
            "intermediate": {int(k): _num(v) for k, v in sorted(t.intermediate_values.items())}}


def _num(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _iso(moment: datetime | None) -> str | None:
    # Optuna stores naive local times; astimezone() reads a naive time as local.
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
