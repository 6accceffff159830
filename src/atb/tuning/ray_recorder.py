"""The driver-side Tune callback that stores each Ray trial in the study as it ends (so Ctrl-C keeps every finished
trial). Imports Ray at import time: atb.tuning.ray_backend imports it only for a Ray search."""

from __future__ import annotations

from ray import tune


class StudyRecorder(tune.Callback):
    """Copies every ended Ray trial into the Optuna study: complete (its final report), pruned (stopped by the
    scheduler before it) or failed (after Tune's retries)."""

    def __init__(self, record, metric: str, on_trial=None):
        self._record, self._on_trial = record, on_trial  # record(params, metrics, history, error) -> FrozenTrial
        self._metric = metric  # the validation loss each epoch's report carries
        self._history: dict[str, dict[int, float]] = {}
        self.trials: list = []

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if not result.get("finished") and self._metric in result and "epoch" in result:
            self._history.setdefault(trial.trial_id, {})[int(result["epoch"])] = float(result[self._metric])

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._store(trial, None)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._store(trial, str(getattr(trial, "error_msg", None) or "the trial failed on Ray"))

    def _store(self, trial, error):
        if self._record is None:  # an unpickled copy
            return
        stored = self._record(dict(trial.config or {}), dict(trial.last_result or {}),
                              self._history.pop(trial.trial_id, {}), error)
        if stored is not None:
            self.trials.append(stored)
            if self._on_trial is not None:
                self._on_trial(stored)

    def get_state(self):
        return None  # nothing to checkpoint

    def __getstate__(self):
        # Tune pickles its callbacks with the experiment state; the study and the CLI's printer are not picklable
        # and are not needed there (only this live object records).
        return {"_record": None, "_on_trial": None, "_history": {}, "trials": []}
