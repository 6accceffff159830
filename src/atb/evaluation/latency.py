"""ONNX Runtime latency: single-window p50/p95 after warm-up, and batch throughput."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from atb.models.runtime import onnx_session


def measure_latency(path: str | Path, window: np.ndarray, batch: np.ndarray,
                    runs: int = 200, warmup: int = 20) -> dict:
    """``window``: (1, L, F) float32; ``batch``: (B, L, F) float32."""
    session = onnx_session(path)
    name = session.get_inputs()[0].name
    for _ in range(warmup):
        session.run(None, {name: window})
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        session.run(None, {name: window})
        times[i] = time.perf_counter() - t0
    batch_session = onnx_session(path, threads=0)  # 0: ONNX Runtime's default, all cores
    batch_session.run(None, {name: batch})
    repeats = 5
    t0 = time.perf_counter()
    for _ in range(repeats):
        batch_session.run(None, {name: batch})
    elapsed = time.perf_counter() - t0
    return {
        "inference_ms_p50": float(np.percentile(times, 50) * 1e3),
        "inference_ms_p95": float(np.percentile(times, 95) * 1e3),
        "batch_throughput_per_s": float(repeats * len(batch) / elapsed),
        "batch_size_for_throughput": int(len(batch)),
    }
