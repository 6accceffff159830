"""Study storage: a journal file under $ATB_DATA_DIR/optuna by default, never the run-log database; resuming keeps
trials; a resumed study keeps its objective; pruning stops a trial with a bad validation loss."""

from __future__ import annotations

import math
from types import SimpleNamespace

import optuna
import pytest

from atb.errors import UsageError
from atb.tuning import storage
from atb.tuning import study as studies
from atb.tuning.objective import PruningReporter
from atb.tuning.settings import TuneSettings


def test_default_is_a_journal_file_per_study(data_dir):
    spec = storage.resolve(None, "s1")
    assert spec.url is None and spec.path == (data_dir / "optuna" / "s1.journal").absolute()
    study = studies.open_study("s1", spec, TuneSettings("BTCUSDT", "tcn"))
    assert isinstance(study._storage, optuna.storages.JournalStorage) and spec.path.is_file()


def test_the_run_log_database_is_refused(data_dir, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    from atb.tracking.settings import database_url

    run_log = database_url().database
    with pytest.raises(UsageError, match="run-log database"):
        storage.resolve(f"sqlite:///{run_log}", "s")
    with pytest.raises(UsageError, match="run-log database"):
        storage.resolve(run_log, "s")
    monkeypatch.setenv("DATABASE_URL", "postgresql://atb:secret@db.example:5432/atb")
    with pytest.raises(UsageError, match="run-log database"):
        storage.resolve("postgresql+psycopg://atb:secret@db.example:5432/atb", "s")
    assert storage.resolve("postgresql://atb:secret@db.example:5432/optuna", "s").label.endswith("/optuna")
    assert "secret" not in storage.resolve("postgresql://atb:secret@db.example:5432/optuna", "s").label


@pytest.mark.parametrize("bad", ["a b", "../x", "", "-x"])
def test_bad_study_names_are_one_line_errors(bad, data_dir):
    with pytest.raises(UsageError, match="--study"):
        storage.resolve(None, bad)


def test_a_bad_url_is_a_one_line_error(data_dir):
    with pytest.raises(UsageError, match="cannot open the study storage"):
        storage.open_storage(storage.resolve("nosuchdriver://x/y", "s"))


def test_resume_keeps_finished_trials_and_the_objective(data_dir):
    spec = storage.resolve(None, "r")
    settings = TuneSettings("BTCUSDT", "tcn", days=10, epochs=3)
    study = studies.open_study("r", spec, settings)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    again = studies.open_study("r", spec, settings)
    assert studies.finished(again) == 3 and [t.number for t in again.trials] == [0, 1, 2]
    with pytest.raises(UsageError, match="days 10 -> 20"):
        studies.open_study("r", spec, TuneSettings("BTCUSDT", "tcn", days=20, epochs=3))


def test_the_same_seed_proposes_the_same_configurations(data_dir):
    def proposals(name):
        study = studies.open_study(name, storage.resolve(None, name), TuneSettings("BTCUSDT", "tcn", seed=3))
        study.optimize(lambda t: (t.suggest_float("x", 0, 1) - 0.3) ** 2, n_trials=8)
        return [t.params["x"] for t in study.trials]

    assert proposals("a") == proposals("b")


def test_a_trial_with_a_bad_validation_loss_is_pruned(data_dir):
    study = studies.open_study("p", storage.resolve(None, "p"), TuneSettings("BTCUSDT", "tcn"))

    def objective(trial):
        bad = trial.number >= studies.STARTUP_TRIALS
        reporter = PruningReporter(trial.report, trial.should_prune, optuna.TrialPruned)
        for epoch in range(1, 8):
            loss = 1.0 if bad else 0.5 - 0.01 * epoch
            reporter.epoch(SimpleNamespace(epoch=epoch, val_mse=loss, val_loss=loss))
        return reporter.best

    study.optimize(objective, n_trials=studies.STARTUP_TRIALS + 2)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE"] * studies.STARTUP_TRIALS + ["PRUNED", "PRUNED"]
    pruned = study.trials[-1]
    assert max(pruned.intermediate_values) == studies.WARMUP_EPOCHS  # the first epoch that may be pruned


def test_pruning_reads_the_validation_mse_not_the_training_loss():
    seen = []
    reporter = PruningReporter(lambda v, step: seen.append((step, v)), lambda: False, RuntimeError)
    reporter.epoch(SimpleNamespace(epoch=1, val_mse=0.9, val_loss=0.4))
    reporter.epoch(SimpleNamespace(epoch=2, val_mse=1.2, val_loss=0.3))
    reporter.epoch(SimpleNamespace(epoch=3, val_mse=math.nan, val_loss=0.5))
    assert seen == [(1, 0.9), (2, 0.9), (3, 0.5)]  # best so far; a missing MSE falls back to the loss
