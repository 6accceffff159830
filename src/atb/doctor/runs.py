"""Training on a doctor's market through the real pipeline (train_model), into a temporary registry with no run
log, and scoring the test forecasts against naive persistence and the best possible forecast on the same windows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from atb.data.timeframes import bars_per_day
from atb.doctor.markets import MARKET_SYMBOL, Market, oracle_close
from atb.doctor.settings import DoctorSettings
from atb.registry.metadata import VersionMetadata
from atb.training.request import TrainRequest


@dataclass
class MarketRun:
    architecture: str
    variant: str
    seed: int
    version_dir: Path
    metadata: VersionMetadata
    predictions: pd.DataFrame  # the test rows of predictions.parquet


def market_request(market: Market, architecture: str, variant: str, seed: int, settings: DoctorSettings,
                   models_dir: Path) -> TrainRequest:
    source = {"data_source": "file", "data_file": str(market.data_file)} if market.data_file else {
        "data_source": "synthetic", "synthetic_ar_coef": market.ar_coef, "synthetic_seed": market.seed}
    return TrainRequest(
        symbol=MARKET_SYMBOL, architecture=architecture, variant=variant, timeframe=settings.timeframe,
        days=settings.preset.target_bars / bars_per_day(settings.timeframe), epochs=settings.preset.epochs,
        seed=seed, device=settings.device, threads=settings.torch_threads, models_dir=models_dir, log_to_db=False,
        **source,
    )


def market_candles(req: TrainRequest) -> pd.DataFrame:
    """The candles a run of this request trains on (the same call the pipeline makes)."""
    from atb.training.pipeline import prepare_data  # torch-free, but pulls the feature stack

    return prepare_data(req)[0]


def train_run(req: TrainRequest) -> MarketRun:
    from atb.training.pipeline import train_model  # torch: deferred

    outcome = train_model(req)
    return MarketRun(req.architecture, req.variant, req.seed, outcome.version_dir, outcome.metadata,
                     scored_predictions(outcome.version_dir))


def scored_predictions(version_dir: Path) -> pd.DataFrame:
    """predictions.parquet's test rows (files with a `split` column also hold validation rows)."""
    frame = pd.read_parquet(Path(version_dir) / "predictions.parquet")
    if "split" in frame.columns:
        frame = frame[frame["split"] == "test"]
    return frame.reset_index(drop=True)


@dataclass
class Score:
    """A model's test forecasts on a doctor's market, pooled over its seeds (they share the windows: each window's
    squared error is averaged over the seeds, as the benchmark pools them)."""

    windows: int
    seeds: int
    skill: float  # RMSE skill vs naive persistence
    seed_skills: list[float]
    oracle_skill: float  # the best possible forecast's skill on the same windows
    p_vs_naive: float  # one-sided DM, H1: the model's loss is lower than naive persistence's
    p_vs_oracle: float  # one-sided DM, H1: the model's loss is lower than the best possible forecast's
    accuracy: float  # directional accuracy in %, mean over the seeds
    oracle_accuracy: float
    # One-sided exact McNemar test on the windows where the model and the oracle call the direction differently,
    # H1: the model is right more often than the best possible forecast (the smallest over the seeds, Bonferroni).
    p_direction_vs_oracle: float

    @property
    def share(self) -> float:
        """The share of the attainable skill reached (NaN when nothing is attainable: the placebo)."""
        return self.skill / self.oracle_skill if self.oracle_skill > 0 else float("nan")

    def to_dict(self) -> dict:
        return {"windows": self.windows, "seeds": self.seeds, "rmse_skill": self.skill,
                "rmse_skill_seeds": self.seed_skills, "attainable_skill": self.oracle_skill,
                "share_of_attainable": self.share, "dm_p_one_sided_vs_naive": self.p_vs_naive,
                "dm_p_one_sided_vs_oracle": self.p_vs_oracle, "directional_accuracy": self.accuracy,
                "oracle_directional_accuracy": self.oracle_accuracy,
                "direction_p_one_sided_vs_oracle": self.p_direction_vs_oracle}


def score(runs: list[MarketRun], candles: pd.DataFrame, phi: float) -> Score:
    from atb.evaluation.stats import diebold_mariano_losses, directional_accuracy  # scipy: deferred

    first = runs[0].predictions
    for run in runs[1:]:
        if not run.predictions["target_time"].equals(first["target_time"]):
            raise ValueError("the seeds of one market were scored on different windows")
    last, actual = first["last_close"].to_numpy(np.float64), first["actual_close"].to_numpy(np.float64)
    per_seed = np.stack([(r.predictions["predicted_close"].to_numpy(np.float64) - actual) ** 2 for r in runs])
    model_sq, naive_sq = per_seed.mean(axis=0), (last - actual) ** 2
    oracle = oracle_close(candles, first["target_time"], phi)
    oracle_sq = (oracle - actual) ** 2

    def skill(sq: np.ndarray) -> float:
        return 1 - float(np.sqrt(sq.mean() / naive_sq.mean()))

    forecasts = [r.predictions["predicted_close"].to_numpy(np.float64) for r in runs]
    directions = [directional_accuracy(last, actual, f) for f in forecasts]
    return Score(
        windows=len(first), seeds=len(runs), skill=skill(model_sq), seed_skills=[skill(s) for s in per_seed],
        oracle_skill=skill(oracle_sq),
        p_vs_naive=_p(diebold_mariano_losses(model_sq, naive_sq).p_value_one_sided),
        p_vs_oracle=_p(diebold_mariano_losses(model_sq, oracle_sq).p_value_one_sided),
        accuracy=float(np.mean([d.accuracy for d in directions])),
        oracle_accuracy=directional_accuracy(last, actual, oracle).accuracy,
        p_direction_vs_oracle=min(1.0, len(runs) * min(direction_vs(f, oracle, last, actual) for f in forecasts)),
    )


def direction_vs(forecast: np.ndarray, reference: np.ndarray, last: np.ndarray, actual: np.ndarray) -> float:
    """Exact one-sided McNemar test: over the moves with a direction, of the windows where exactly one of the two
    calls is right, is the forecast's share above one half? (The two calls share their windows: a paired test.)"""
    from scipy.stats import binomtest  # deferred: scipy

    moved = actual != last
    up = actual[moved] > last[moved]
    right = (forecast[moved] > last[moved]) == up
    reference_right = (reference[moved] > last[moved]) == up
    only_forecast, only_reference = int((right & ~reference_right).sum()), int((~right & reference_right).sum())
    if only_forecast + only_reference == 0:
        return 1.0
    return float(binomtest(only_forecast, only_forecast + only_reference, 0.5, alternative="greater").pvalue)


def _p(value: float) -> float:
    return 1.0 if value != value else float(value)  # an undefined test (identical losses) is no evidence
