"""ONNX Runtime latency: single-window p50/p95 after warm-up, and batch throughput."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from atb.models.runtime import onnx_session


def measure_latency(path: str | Path, window: np.ndarray, batch: np.ndarray,
                    runs: int = 200, warmup: int = 20, max_runs: int = 2000, tolerance: float = 0.02) -> dict:
    """``window``: (1, L, F) float32; ``batch``: (B, L, F) float32.

    Single-window timings come in rounds of ``runs`` until one more round moves the p50 by less than
    ``tolerance`` (relative), or ``max_runs`` are spent: as many iterations as a stable p50 needs (a quiet
    machine stops after two rounds, ~0.05 s for a 0.1 ms model)."""
    session = onnx_session(path)
    name = session.get_inputs()[0].name
    for _ in range(warmup):
        session.run(None, {name: window})
    times: list[float] = []
    p50 = None
    while len(times) < max_runs:
        for _ in range(runs):
            t0 = time.perf_counter()
            session.run(None, {name: window})
            times.append(time.perf_counter() - t0)
        previous, p50 = p50, float(np.percentile(times, 50))
        if previous is not None and abs(p50 - previous) <= tolerance * previous:
            break
    batch_session = onnx_session(path, threads=0)  # 0: ONNX Runtime's default, all cores
    batch_session.run(None, {name: batch})
    repeats = 5
    t0 = time.perf_counter()
    for _ in range(repeats):
        batch_session.run(None, {name: batch})
    elapsed = time.perf_counter() - t0
    return {
        "inference_ms_p50": float(np.percentile(times, 50) * 1e3),
        "latency_runs": len(times),
        "inference_ms_p95": float(np.percentile(times, 95) * 1e3),
        "batch_throughput_per_s": float(repeats * len(batch) / elapsed),
        "batch_size_for_throughput": int(len(batch)),
    }
