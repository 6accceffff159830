"""Speed work must not change results: a seeded CPU run reproduces these figures, recorded when the
training loop was written (before any speed change). If a deliberate change of the method moves them,
update them in the same commit and say why."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from atb.registry.predictions import keep_test
from atb.training.pipeline import TrainRequest, train_model

pytestmark = pytest.mark.slow

PINNED = {
    "test_rmse": 22.038027800004244,
    "val_loss": 0.4195595383644104,
    "train_loss": 0.9558036007098297,
    "first_predictions": [13694.645357619236, 13661.699412329732, 13635.29059723504],
}


def test_seeded_cpu_run_reproduces_the_pinned_metrics(tmp_path):
    outcome = train_model(TrainRequest(
        symbol="BTCUSDT", architecture="tcn", variant="lightweight", days=8, epochs=3, seed=42, device="cpu",
        data_source="synthetic", models_dir=tmp_path, log_to_db=False,
    ))
    ev = outcome.metadata.evaluation_results
    predictions = keep_test(pd.read_parquet(outcome.version_dir / "predictions.parquet"))["predicted_close"]
    predictions = predictions.head(3).tolist()
    # Tight, not exact: another CPU's vector kernels may round the last bits differently.
    assert ev.test_rmse == pytest.approx(PINNED["test_rmse"], rel=1e-6)
    assert ev.val_loss == pytest.approx(PINNED["val_loss"], rel=1e-5)
    assert ev.train_loss == pytest.approx(PINNED["train_loss"], rel=1e-5)
    assert predictions == pytest.approx(PINNED["first_predictions"], rel=1e-7)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here; the CUDA path is tested where one is")
def test_cuda_training_path(tmp_path):
    outcome = train_model(TrainRequest(
        symbol="BTCUSDT", architecture="attention_lstm", days=40, epochs=2, device="auto",
        data_source="synthetic", models_dir=tmp_path, log_to_db=False,
    ))
    tp, perf = outcome.metadata.training_params, outcome.metadata.performance
    assert tp.device.startswith("cuda") and tp.batch_size == 512
    assert perf.peak_gpu_mb > 0
    assert outcome.metadata.onnx.max_abs_diff <= 1e-4  # exported from the CPU copy of the weights
