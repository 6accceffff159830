"""One trial: draw a configuration, fit it, and score it on the validation split only.

The objective is the validation MSE of the scaled next-bar log return at the best epoch (the same quantity whatever
the training loss: a Huber loss is not comparable with an MSE). Pruning reads the same validation MSE, best so far,
after every epoch. Each trial also records the Sharpe ratio of the validation backtest (the protocol's threshold,
chosen on validation): the variance of these over the trials feeds the winner's Deflated Sharpe."""

from __future__ import annotations

import logging
import math
import os

from atb.training.pipeline import SilentReporter
from atb.tuning import space
from atb.tuning.settings import TuneSettings

log = logging.getLogger(__name__)

# user_attrs of a trial (atb tune show and study_summary read them)
ATTR_SHARPE = "val_sharpe"  # annualised Sharpe of the validation backtest (0 when it never trades)
# the Sharpe at threshold 0 (trade every forecast's sign): informative where the protocol's threshold never trades
ATTR_SHARPE_ZERO = "val_sharpe_zero_threshold"
ATTR_PID = "pid"  # the process that ran it (a killed worker's trials are marked failed by it)
ATTR_HOST = "host"
ATTR_EPOCHS = "epochs_run"
ATTR_BEST_EPOCH = "best_epoch"
ATTR_SEED = "seed"
ATTR_BATCH = "batch_size_used"
ATTR_SECONDS = "fit_seconds"


class PruningReporter(SilentReporter):
    """The pipeline's Reporter that hands each epoch's validation MSE (best so far) to `report`, and stops the fit
    when `should_prune` says so (raising `pruned`, e.g. optuna.TrialPruned)."""

    def __init__(self, report, should_prune, pruned: type[BaseException]):
        self._report, self._should_prune, self._pruned = report, should_prune, pruned
        self.best = math.inf

    def epoch(self, stats) -> None:
        value = stats.val_mse if math.isfinite(stats.val_mse) else stats.val_loss
        self.best = min(self.best, value)
        self._report(self.best, stats.epoch)
        if self._should_prune():
            raise self._pruned(f"pruned at epoch {stats.epoch} (validation MSE {self.best:.4f})")


def validation_sharpe(validation, timeframe: str) -> tuple[float, float]:
    """The annualised Sharpe of the validation backtest at the threshold the protocol picks on validation, and at
    threshold 0."""
    # Deferred: the backtest pulls pandas and numpy.
    from atb.backtest.bars import bars_from_frame
    from atb.backtest.costs import DEFAULT_FEE_BPS, DEFAULT_SLIPPAGE_BPS, bars_per_year, cost_per_unit
    from atb.backtest.threshold import select_threshold

    bars = bars_from_frame(validation, "validation")
    choice = select_threshold(bars, "long_flat", cost_per_unit(DEFAULT_FEE_BPS, DEFAULT_SLIPPAGE_BPS),
                              bars_per_year(timeframe))
    grid = dict(choice.grid)
    sharpe, zero = (float(grid.get(t, float("nan"))) for t in (choice.threshold, 0.0))
    # A strategy that never holds a position earns nothing: its Sharpe is 0 (NaN from a zero deviation), as the
    # threshold choice itself scores it.
    return (sharpe if math.isfinite(sharpe) else 0.0), (zero if math.isfinite(zero) else 0.0)


def fit_trial(config: space.TrialConfig, settings: TuneSettings, reporter) -> tuple[float, dict]:
    """Fit one configuration; (objective value, user attrs). Reads no test row."""
    import socket
    import time

    from atb.training.pipeline import fit_on_validation  # torch: deferred

    start = time.perf_counter()
    fit = fit_on_validation(settings.request(config), reporter)
    sharpe, zero = validation_sharpe(fit.validation, settings.timeframe)
    attrs = {ATTR_SHARPE: sharpe, ATTR_SHARPE_ZERO: zero, ATTR_EPOCHS: fit.result.epochs_run,
             ATTR_BEST_EPOCH: fit.result.best_epoch, ATTR_SEED: settings.seed, ATTR_BATCH: fit.batch_size,
             ATTR_SECONDS: round(time.perf_counter() - start, 3), ATTR_HOST: socket.gethostname()}
    return float(fit.best_val_mse), attrs


def optuna_objective(settings: TuneSettings):
    """The objective function of study.optimize."""
    import socket

    import optuna  # deferred: optuna takes ~0.5 s to import

    def objective(trial) -> float:
        trial.set_user_attr(ATTR_PID, os.getpid())
        trial.set_user_attr(ATTR_HOST, socket.gethostname())
        config = space.suggest(trial, settings.architecture)
        reporter = PruningReporter(trial.report, trial.should_prune, optuna.TrialPruned)
        value, attrs = fit_trial(config, settings, reporter)
        for key, item in attrs.items():
            trial.set_user_attr(key, item)
        return value

    return objective
