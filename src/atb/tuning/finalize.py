"""After the search: the best configuration is trained again (the best trial's seed, the same span) and scored
once on the test split with the full protocol, published as a registry version whose metadata carries ``tuning``;
the default configuration is trained on the same span (into a temporary registry, not published: the user's
registry gains the tuned version only) and compared with it by the DM test on the same test target times."""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atb.errors import AtbError
from atb.tuning import space
from atb.tuning import study as studies
from atb.tuning.objective import ATTR_SEED, ATTR_SHARPE, ATTR_SHARPE_ZERO
from atb.tuning.settings import TuneSettings

log = logging.getLogger(__name__)


@dataclass
class Comparison:
    tuned_rmse: float
    default_rmse: float
    dm_statistic: float  # negative: the tuned forecast's squared error is lower
    dm_p_one_sided: float  # H1: the tuned forecast's loss is lower
    dm_p_two_sided: float
    windows: int

    def to_dict(self) -> dict:
        return {"tuned_test_rmse": self.tuned_rmse, "default_test_rmse": self.default_rmse,
                "dm_statistic": self.dm_statistic, "dm_p_value_one_sided": self.dm_p_one_sided,
                "dm_p_value": self.dm_p_two_sided, "test_windows": self.windows}


@dataclass
class Finalized:
    version_dir: Path
    metadata: object  # VersionMetadata
    tuning: dict  # metadata.json's tuning section
    comparison: Comparison


def trial_sharpe_variance(study, attr: str = ATTR_SHARPE) -> tuple[int, float, int]:
    """(n_trials, variance of the trials' validation Sharpe ratios, how many had one). N counts every configuration
    that was tried (complete and pruned: a pruned configuration was tried too, and a larger N deflates more); the
    variance is over the complete trials, the only ones with a validation backtest (annualised units, ddof=1)."""
    n = studies.finished(study)
    sharpes = [t.user_attrs.get(attr) for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    sharpes = [float(s) for s in sharpes if isinstance(s, (int, float)) and math.isfinite(s)]
    var = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else 0.0
    return n, var, len(sharpes)


def finalize(study, study_name: str, storage_label: str, settings: TuneSettings, *, models_dir: Path | None,
             log_to_db: bool, reporter=None) -> Finalized:
    """Score the best trial's configuration once on test, publish it, compare it with the default configuration."""
    # Deferred: torch and the pipeline load only when the search is over.
    from atb.evaluation.stats import diebold_mariano
    from atb.training.pipeline import train_model
    from atb.tuning.result import trial_counts

    try:
        best = study.best_trial
    except ValueError:
        raise AtbError(f"study {study_name} has no complete trial: nothing to score (see 'atb tune show "
                       f"{study_name}')") from None
    config = space.from_params(best.params, settings.architecture)
    seed = best.user_attrs.get(ATTR_SEED, settings.seed)
    n_trials, sharpe_var, n_sharpes = trial_sharpe_variance(study)
    n = trial_counts(study)

    with tempfile.TemporaryDirectory(prefix="atb-tune-default-") as scratch:
        log.info("training the default configuration on the same span")
        if reporter is not None:
            reporter.stage("Training the default configuration on the same span (for the comparison)")
        default = train_model(settings.request(None, models_dir=Path(scratch), log_to_db=False), reporter)
        default_pred = _test_rows(default.version_dir)
    default_rmse = default.metadata.evaluation_results.test_rmse

    holder: dict = {}

    def sections(run) -> dict:
        from atb.backtest import training_backtest

        tuned = run.predictions.reset_index(drop=True)
        if not tuned["target_time"].reset_index(drop=True).equals(default_pred["target_time"]):
            raise AtbError("the tuned and the default configuration were scored on different test target times")
        err_t = tuned["predicted_close"].to_numpy(np.float64) - tuned["actual_close"].to_numpy(np.float64)
        err_d = default_pred["predicted_close"].to_numpy(np.float64) - default_pred["actual_close"].to_numpy(np.float64)
        dm = diebold_mariano(err_t, err_d, settings.horizon)
        cmp = Comparison(float(np.sqrt(np.mean(err_t**2))), float(default_rmse), dm.statistic,
                         dm.p_value_one_sided, dm.p_value, len(err_t))
        # The version's own backtest, with its Deflated Sharpe over the N configurations tried.
        run.backtest = training_backtest(run.predictions, run.validation, horizon=settings.horizon,
                                         timeframe=settings.timeframe, n_trials=n_trials, trial_sharpe_var=sharpe_var)
        tuning = {
            "study": study_name, "storage": storage_label, "sampler": f"TPE (seed {settings.seed})",
            "pruner": studies.PRUNER_NAME, "objective": "validation MSE of the scaled next-bar log return",
            "n_trials": n_trials, "n_complete": n["complete"], "n_pruned": n["pruned"], "n_failed": n["fail"],
            "best_trial": best.number, "best_params": dict(best.params), "best_value": float(best.value),
            "best_val_loss": float(best.value), "seed": seed,
            # the retrained winner's own validation MSE: equal to best_value up to float reductions across thread
            # counts (the trial and the final run may use different torch threads)
            "final_val_mse": float(run.result.history[run.result.best_epoch - 1].val_mse),
            "trial_sharpe_var": sharpe_var, "trial_sharpe_count": n_sharpes,
            # the same at threshold 0 (every forecast's sign traded): not what the Deflated Sharpe uses, but telling
            # where the protocol's threshold keeps every trial out of the market (a variance of 0)
            "trial_sharpe_var_zero_threshold": trial_sharpe_variance(study, ATTR_SHARPE_ZERO)[1],
            "default_configuration": {"variant": "default", **cmp.to_dict()},
        }
        holder["cmp"], holder["tuning"] = cmp, tuning
        return {"tuning": tuning}

    if reporter is not None:
        reporter.stage("Training the best configuration and scoring it once on test")
    tuned_req = settings.request(config, models_dir=models_dir, log_to_db=log_to_db, seed=seed)
    tuned_req.extra = {"tuned_from": study_name}
    outcome = train_model(tuned_req, reporter, sections=sections)
    return Finalized(outcome.version_dir, outcome.metadata, holder["tuning"], holder["cmp"])


def _test_rows(version_dir: Path):
    import pandas as pd  # deferred (see above)

    frame = pd.read_parquet(Path(version_dir) / "predictions.parquet")
    if "split" in frame.columns:
        frame = frame[frame["split"] == "test"]
    return frame.reset_index(drop=True)
