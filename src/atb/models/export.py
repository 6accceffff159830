"""ONNX export with a dynamic batch axis, and the parity check that every save must pass."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from atb.errors import ModelError
from atb.models.runtime import onnx_session

PARITY_TOLERANCE = 1e-4


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> int:
    """Write a self-contained model.onnx (input "window": (batch, L, F)); return its opset."""
    model = model.cpu().eval()
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # e.g. "torchvision is not installed"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter is not the user's concern
        program = torch.onnx.export(
            model, (example.cpu(),), dynamo=True, external_data=False, verbose=False,
            input_names=["window"], output_names=["log_return_scaled"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
    program.save(str(path))
    return int(next(o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx")))


def check_parity(path: Path, model: nn.Module, windows: np.ndarray) -> float:
    """Max absolute difference between ONNX Runtime and PyTorch on the given windows."""
    session = onnx_session(path, threads=0)
    onnx_out = session.run(None, {session.get_inputs()[0].name: windows})[0]
    with torch.no_grad():
        torch_out = model.cpu().eval()(torch.from_numpy(windows)).numpy()
    diff = float(np.max(np.abs(onnx_out - torch_out)))
    if not diff <= PARITY_TOLERANCE:  # also catches NaN
        raise ModelError(f"ONNX parity check failed: max abs diff {diff:.3g} > {PARITY_TOLERANCE}")
    return diff
