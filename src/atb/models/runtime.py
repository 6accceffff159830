"""ONNX Runtime sessions for a model.onnx, made one way for the parity check and the latency measurement.
No torch here."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def onnx_session(path: str | Path, threads: int = 1) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # one window is too small to share between cores
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
