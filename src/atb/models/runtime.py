"""ONNX Runtime sessions for a model.onnx, made one way for the parity check and the latency measurement.
No torch here."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def onnx_session(path: str | Path, threads: int = 1) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # one window is too small to share between cores
    options.inter_op_num_threads = 1
    # ORT's default, stated because it was measured (benchmarks/onnx_latency.py --levers): EXTENDED or BASIC
    # leave out the NCHWc layout kernels, which costs the TCNs 1.15-1.4x; for the LSTMs every level is alike.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
