"""Models for the Phase-1C suite, trained once per module on a synthetic market and shared by its tests.

The default variants train on a market with a learnable signal (AR(1) coefficient SIGNAL_AR: about a
third of each hour's return is predictable from the last one), long enough that every architecture must
beat naive persistence clearly. The lightweight and deep variants train briefly: they only have to build,
train, export and evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from atb.models.registry import VARIANTS, names
from atb.training.pipeline import TrainOutcome, TrainRequest, train_model

SIGNAL_AR = 0.6
SIGNAL_DAYS = 60  # 1440 target hours: 217 test windows
SIGNAL_EPOCHS = 8
SMALL_DAYS = 10
SMALL_EPOCHS = 2
SEED = 42
ARCHITECTURES = names()  # the built-in ones (a test may register more later)


@dataclass
class Trained:
    models_dir: Path
    runs: dict[tuple[str, str], TrainOutcome]  # (architecture, variant) -> outcome

    def default(self, architecture: str) -> TrainOutcome:
        return self.runs[(architecture, "default")]


def _request(models_dir: Path, architecture: str, variant: str) -> TrainRequest:
    signal = variant == "default"
    return TrainRequest(
        symbol="BTCUSDT", architecture=architecture, variant=variant, data_source="synthetic",
        synthetic_ar_coef=SIGNAL_AR, days=SIGNAL_DAYS if signal else SMALL_DAYS,
        epochs=SIGNAL_EPOCHS if signal else SMALL_EPOCHS, seed=SEED, device="cpu", models_dir=models_dir,
        log_to_db=False,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    import torch

    models_dir = tmp_path_factory.mktemp("bench_models")
    # One intra-op thread: these models are too small to gain from two, and on a busy 2-core machine two
    # spinning threads per process made the suite 5x slower (measured: 194 s vs 39 s, identical results).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = {(a, v): train_model(_request(models_dir, a, v)) for a in ARCHITECTURES for v in VARIANTS}
    finally:
        torch.set_num_threads(threads)
    return Trained(models_dir, runs)
