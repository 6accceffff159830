"""ONNX export with a dynamic batch axis, and the parity check that every save must pass.

How (decided by measurement, benchmarks/README.md "train_breakdown.py"): the TorchScript exporter
(`dynamo=False`) writes the same ONNX LSTM ops with parity ~1e-8 in 0.05 s where the dynamo exporter took
2.5-6 s (plus ~3 s importing its machinery) for the LSTM models. For convolutions it leaves each causal
`F.pad` as a chain of shape ops and a Pad node in front of the Conv (the TCN's single-window p50 0.09 ms vs
0.047 ms from dynamo), so the exported graph is then (1) constant-folded by ONNX Runtime's basic level
(standard ONNX ops only, semantics-preserving) and (2) given onnxoptimizer's `fuse_pad_into_conv`: the
result is the dynamo graph (Conv with its pads), at the dynamo latency, in ~0.04 s.

A shipped model.onnx carries no trace of the machine that built it: node metadata and doc strings (paths of
the training machine's source and virtual environment) are removed, and only the opset domains it uses stay.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from atb.errors import ModelError
from atb.models.runtime import onnx_session

PARITY_TOLERANCE = 1e-4
OPSET = 17
INPUT, OUTPUT = "window", "log_return_scaled"
# onnxoptimizer passes after constant folding: fold each Pad into its Conv, then drop what became unused.
_PASSES = ["fuse_pad_into_conv", "eliminate_nop_transpose", "eliminate_nop_reshape", "eliminate_unused_initializer",
           "eliminate_deadend"]


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> int:
    """Write a self-contained model.onnx (input "window": (batch, L, F), dynamic batch); return its opset."""
    model = model.cpu().eval()
    with tempfile.TemporaryDirectory() as tmp:
        raw, folded = Path(tmp) / "raw.onnx", Path(tmp) / "folded.onnx"
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation chatter is not the user's concern
            torch.onnx.export(model, (example.cpu(),), str(raw), dynamo=False, opset_version=OPSET,
                              input_names=[INPUT], output_names=[OUTPUT],
                              dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}})
        _fold_constants(raw, folded)
        graph = _fuse(onnx.load(str(folded)))
    _strip_build_traces(graph)
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))
    return OPSET


def _fold_constants(source: Path, target: Path) -> None:
    import onnxruntime as ort  # deferred with the rest of the export

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # standard ONNX ops only
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def _fuse(graph: onnx.ModelProto) -> onnx.ModelProto:
    import onnxoptimizer

    return onnxoptimizer.optimize(graph, _PASSES)


def _strip_build_traces(graph: onnx.ModelProto) -> None:
    """No source paths, exporter notes or unused opset domains in the shipped file."""
    graph.doc_string = ""
    graph.graph.doc_string = ""
    del graph.metadata_props[:]
    for node in graph.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    used = {node.domain for node in graph.graph.node}
    keep = [o for o in graph.opset_import if o.domain in ("", "ai.onnx") or o.domain in used]
    del graph.opset_import[:]
    graph.opset_import.extend(keep)


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
