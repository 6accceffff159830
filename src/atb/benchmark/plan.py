"""The list of training runs a benchmark makes: every model x seed x walk-forward fold, and each fold's
test interval.

Every run gets an explicit end (the data's last candle up to --end-date, resolved once), so that all runs
of a fold see exactly the same candles and share their test windows, even when the exchange publishes a
new candle while the benchmark is running. Each fold also gets an explicit interval of test target times,
one test split long *in time*: the folds' intervals are consecutive and disjoint, tile the tested span end
to end, and the newest ends at the last candle. (Counting windows instead would let a gap inside a fold
stretch its test split back over the previous fold's.) The oldest fold runs first.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import pandas as pd

from atb.benchmark.settings import BenchSettings, ModelChoice
from atb.data.loader import load_market
from atb.data.timeframes import bars_per_day, timeframe_delta
from atb.errors import DataError
from atb.features.dataset import build_dataset, split_anchors
from atb.training.request import TrainRequest


@dataclass(frozen=True)
class Fold:
    number: int  # 1 = the oldest test interval
    test_start: pd.Timestamp  # first target time of its test interval
    end: pd.Timestamp  # last target time of its test interval, and of its training runs

    def to_dict(self) -> dict:
        return {"fold": self.number, "test_interval": {"start": _iso(self.test_start), "end": _iso(self.end)}}


@dataclass(frozen=True)
class RunSpec:
    index: int  # 1-based position in the plan
    model: ModelChoice
    seed: int
    fold: int  # 1 = oldest test window
    folds: int
    end: pd.Timestamp | None  # the last candle (target time) the run may use
    test_start: pd.Timestamp | None = None  # its test split: target times in [test_start, end]
    features: str | None = None  # an ablation's feature set for this run; None: the benchmark's --features

    @property
    def title(self) -> str:
        fold = f" fold {self.fold}/{self.folds}" if self.folds > 1 else ""
        features = f" · features {self.features}" if self.features else ""
        return f"{self.model.architecture} {self.model.variant} seed {self.seed}{fold}{features}"


def target_bars(settings: BenchSettings) -> int:
    """The pipeline's count of target candles for --days (train + validation + test)."""
    return max(1, int(round(settings.days * bars_per_day(settings.timeframe))))


def bars_per_test_split(settings: BenchSettings) -> int:
    """Length of the test split in candles, as the dataset builder splits a gap-free span."""
    fractions = inspect.signature(build_dataset).parameters["fractions"].default
    try:
        return len(split_anchors(np.arange(target_bars(settings)), fractions, horizon=1)["test"])
    except DataError:  # too short to split: the training runs themselves will say why
        return max(1, round(target_bars(settings) * fractions[2]))


def fold_ends(settings: BenchSettings, last_candle: pd.Timestamp | None) -> list[pd.Timestamp | None]:
    """End of each fold, oldest first; the newest fold ends at the data's last candle."""
    k = settings.walk_forward
    if last_candle is None:
        return [None] * k
    step = timeframe_delta(settings.timeframe) * bars_per_test_split(settings)
    return [last_candle - (k - 1 - i) * step for i in range(k)]


def make_folds(settings: BenchSettings, last_candle: pd.Timestamp) -> list[Fold]:
    """The folds' test intervals, oldest first: fold k's ends one bar before fold k+1's starts."""
    step = timeframe_delta(settings.timeframe)
    length = bars_per_test_split(settings)
    return [Fold(k, end - (length - 1) * step, end)
            for k, end in enumerate(fold_ends(settings, last_candle), start=1)]


def make_plan(settings: BenchSettings, last_candle: pd.Timestamp | None) -> list[RunSpec]:
    """Folds outermost, then seeds, then (an ablation's) feature sets, then models: an interrupted benchmark
    leaves comparable groups. Without the last candle (only to count the runs) the runs have no end and no test
    interval."""
    folds = make_folds(settings, last_candle) if last_candle is not None else None
    runs = []
    for k in range(1, settings.walk_forward + 1):
        fold = folds[k - 1] if folds else None
        for seed in settings.seed_list:
            for features in settings.feature_sets or (None,):
                for model in settings.models:
                    runs.append(RunSpec(len(runs) + 1, model, seed, k, settings.walk_forward,
                                        fold.end if fold else None, fold.test_start if fold else None, features))
    return runs


def train_request(settings: BenchSettings, spec: RunSpec) -> TrainRequest:
    return TrainRequest(
        symbol=settings.symbol, architecture=spec.model.architecture, variant=spec.model.variant,
        days=settings.days, end=spec.end, test_start=spec.test_start, timeframe=settings.timeframe,
        epochs=settings.epochs, seed=spec.seed, device=settings.device, threads=settings.threads,
        data_source=settings.data_source,
        data_file=settings.data_file, models_dir=settings.models_dir, synthetic_ar_coef=settings.synthetic_ar_coef,
        log_to_db=settings.log_to_db, features=spec.features or settings.features,
        extra={"benchmark": "ablation" if settings.feature_sets else "phase1", "run": spec.index, "seed": spec.seed,
               "fold": spec.fold, "walk_forward": settings.walk_forward},
    )


def resolve_last_candle(settings: BenchSettings) -> pd.Timestamp:
    """The newest candle the data source has (the exchange's last closed one) at or before --end-date, asked
    for once."""
    candles = load_market(
        settings.data_source, settings.symbol, settings.timeframe, start=None, end=settings.end, history_bars=0,
        target_bars=1, data_file=settings.data_file, exchange=TrainRequest.exchange,
        seed=TrainRequest.synthetic_seed, ar_coef=settings.synthetic_ar_coef,
    )
    return candles["open_time"].iloc[-1]


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")
