"""Phase 1C: the architecture benchmark suite on synthetic data (guide: `pytest tests/benchmark/... -v`).

Every architecture and variant builds, trains, exports to ONNX and evaluates; on a market with a
learnable signal each architecture beats naive persistence significantly; variants grow in size;
single-window ONNX inference is fast; training memory is recorded and bounded. The models are trained
once (tests/benchmark/conftest.py) and shared by the tests.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from atb.benchmark.decision import decide
from atb.evaluation.comparison import SIGNIFICANCE, Entry, compare
from atb.evaluation.latency import measure_latency
from atb.models.factory import build_model, count_parameters
from atb.models.registry import VARIANTS, names
from atb.registry.predictions import read_predictions

pytestmark = pytest.mark.benchmark
ARCHITECTURES = names()  # the built-in ones (a test may register more later)

ARTIFACTS = ("model.onnx", "model.safetensors", "metadata.json", "predictions.parquet")
FINITE_METRICS = ("test_rmse", "test_mae", "mape", "directional_accuracy", "naive_test_rmse", "rmse_skill_vs_naive")
LATENCY_LIMIT_MS = 50.0  # the guide's "ideal" single prediction
MEMORY_LIMIT_MB = 4096.0


def _beats_naive(metrics: dict) -> bool:
    return metrics["rmse_skill_vs_naive"] > 0 and metrics["dm_vs_naive"]["p_value_one_sided"] < SIGNIFICANCE


def test_comprehensive_model_comparison(trained):
    for (arch, variant), outcome in trained.runs.items():
        folder = outcome.version_dir
        for name in ARTIFACTS:
            assert (folder / name).is_file() and (folder / name).stat().st_size > 0, f"{arch}/{variant}: no {name}"
        on_disk = json.loads((folder / "metadata.json").read_text())
        tp, ev = on_disk["training_params"], on_disk["evaluation_results"]
        assert (tp["architecture"], tp["architecture_variant"]) == (arch, variant)
        assert tp["epochs_run"] >= 1
        for key in FINITE_METRICS:
            assert math.isfinite(ev[key]), f"{arch}/{variant}: {key} = {ev[key]}"
        assert ev["test_rmse"] > 0 and 0 <= ev["directional_accuracy"] <= 100
        assert on_disk["onnx"]["max_abs_diff"] < 1e-3
        preds = read_predictions(folder).test
        assert len(preds) == ev["test_windows"] and np.isfinite(preds["predicted_close"]).all()

    # The benchmark's table: every architecture, the naive row, the CNN-LSTM baseline, on shared windows.
    comparison = compare([Entry.from_version(trained.default(a).version_dir) for a in ARCHITECTURES])
    assert [r.architecture for r in comparison.rows] == [*ARCHITECTURES, "naive"]
    assert comparison.baseline == "cnn_lstm (default)" and comparison.notes == []
    assert comparison.windows == trained.default("cnn_lstm").metadata.evaluation_results.test_windows
    failures = [f"{r.label}: skill {r.metrics['rmse_skill_vs_naive']:+.3f}, "
                f"DM p {r.metrics['dm_vs_naive']['p_value']:.3g}"
                for r in comparison.rows if not r.is_naive and not _beats_naive(r.metrics)]
    assert not failures, f"should beat naive persistence on a learnable series: {failures}"
    naive = comparison.rows[-1]
    assert all(r.metrics["test_rmse"] < naive.metrics["test_rmse"] for r in comparison.rows[:-1])


def test_attention_lstm_vs_baseline(trained):
    base, att = trained.default("cnn_lstm"), trained.default("attention_lstm")
    comparison = compare([Entry.from_version(base.version_dir), Entry.from_version(att.version_dir)])
    base_row, att_row = comparison.rows[0], comparison.rows[1]
    assert base_row.is_baseline and not att_row.is_baseline
    # The improvement is the guide's formula over the RMSEs the runs recorded, on the same windows.
    b, a = base.metadata.evaluation_results.test_rmse, att.metadata.evaluation_results.test_rmse
    assert att_row.rmse_improvement_pct == pytest.approx(100 * (b - a) / b)
    assert 0 <= att_row.dm_vs_baseline["p_value"] <= 1 and math.isfinite(att_row.dm_vs_baseline["statistic"])
    # Both models learn the signal: significantly better than naive and better than a coin flip on direction.
    for row in (base_row, att_row):
        assert _beats_naive(row.metrics), row.label
        assert row.metrics["directional_accuracy_ci95"][0] > 50, row.label
    # The decision matrix reads the same comparison and lands on the scenario the numbers imply.
    decision = decide([r.flat() for r in comparison.rows], windows=comparison.windows)
    imp = att_row.rmse_improvement_pct
    p_better, p_worse = att_row.dm_vs_baseline["p_value_one_sided"], 1 - att_row.dm_vs_baseline["p_value_one_sided"]
    expected = 4 if imp <= 0 else 3 if imp < 5 or p_better >= SIGNIFICANCE else 2 if imp < 10 else 1
    assert decision.significant == (p_better < SIGNIFICANCE if imp > 0 else p_worse < SIGNIFICANCE)
    assert decision.scenario == expected
    assert decision.beats_naive == ["cnn_lstm (default)", "attention_lstm (default)"]


def test_inference_speed_benchmark(trained):
    for (arch, variant), outcome in trained.runs.items():
        perf = outcome.metadata.performance
        assert 0 < perf.inference_ms_p50 < LATENCY_LIMIT_MS, f"{arch}/{variant}: p50 {perf.inference_ms_p50}"
        assert perf.inference_ms_p95 >= perf.inference_ms_p50 and perf.batch_throughput_per_s > 0
    rng = np.random.default_rng(0)
    for arch in ARCHITECTURES:
        outcome = trained.default(arch)
        _, length, features = outcome.metadata.onnx.input_shape
        window = rng.standard_normal((1, length, features)).astype(np.float32)
        batch = rng.standard_normal((64, length, features)).astype(np.float32)
        measured = measure_latency(outcome.version_dir / "model.onnx", window, batch, runs=100, warmup=10)
        assert 0 < measured["inference_ms_p50"] < LATENCY_LIMIT_MS, f"{arch}: {measured}"
        assert measured["inference_ms_p95"] >= measured["inference_ms_p50"]
        assert measured["batch_throughput_per_s"] > 1000 / LATENCY_LIMIT_MS  # batching is no slower than one by one


def test_parameter_counts_grow_with_the_variant(trained):
    for arch in ARCHITECTURES:
        recorded = [trained.runs[(arch, v)].metadata.performance.parameters for v in VARIANTS]
        assert recorded[0] < recorded[1] < recorded[2], f"{arch}: {dict(zip(VARIANTS, recorded, strict=True))}"
        for variant, count in zip(VARIANTS, recorded, strict=True):
            meta = trained.runs[(arch, variant)].metadata
            assert count_parameters(build_model(arch, meta.model_config)) == count


def test_training_memory_is_recorded_and_bounded(trained):
    for (arch, variant), outcome in trained.runs.items():
        peak = outcome.metadata.performance.peak_rss_mb
        assert 0 < peak < MEMORY_LIMIT_MB, f"{arch}/{variant}: peak RSS {peak} MB"
