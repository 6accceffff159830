"""The ensemble as one torch module, for the ONNX export: a window of raw features in, the combined log return out.

Input spec (the one choice this module makes): a shared window of the longest member's length of RAW features
(atb.features.indicators.FEATURES, unscaled). Each member takes its own last ``L_i`` rows (and its own feature
columns, should a member use fewer), applies its own train-only scaler (``(x - mean) / std``, from its
scaler.json) and its own network (rebuilt from model.safetensors and metadata's model_config), and its scaled
output times its ``target_std`` is its predicted log return ``r_i``. The module returns
``intercept + sum_i w_i * r_i``, a log return: the ensemble's scaler.json is the identity with ``target_std`` 1, so
`atb predict` (scaler, then model.onnx, then ``last_close * exp(output * target_std)``) runs it unchanged.

A member whose weight is exactly 0 is left out of the graph (its term is 0 on every window).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from atb.errors import ModelError
from atb.features.scaler import Scaler


@dataclass(frozen=True)
class Part:
    """One member inside the composite."""

    model: nn.Module
    length: int  # its sequence length
    columns: list[int] | None  # its features' positions in the shared input (None: all, in order)
    scaler: Scaler
    weight: float


def load_part(version_dir: Path, metadata, weight: float, feature_names: list[str]) -> Part:
    """A member rebuilt from its files: the network from model.safetensors and model_config, and its scaler."""
    from safetensors.torch import load_file

    from atb.models.factory import build_model  # the architecture table's one door to a model

    name = metadata.version_id or Path(version_dir).name
    try:
        scaler = Scaler.from_dict(json.loads((Path(version_dir) / (metadata.artifacts.scaler or "scaler.json"))
                                             .read_text()))
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"{name}: cannot read its scaler ({exc})") from None
    missing = [f for f in scaler.feature_names if f not in feature_names]
    if missing:
        raise ModelError(f"{name} uses features this atb does not compute ({', '.join(missing)}); retrain it")
    columns = [feature_names.index(f) for f in scaler.feature_names]
    if not metadata.model_config:
        raise ModelError(f"{name}: metadata.json has no model_config to rebuild the network from")
    model = build_model(metadata.training_params.architecture, metadata.model_config)
    try:
        state = load_file(str(Path(version_dir) / (metadata.artifacts.weights or "model.safetensors")))
        model.load_state_dict(state)
    except (OSError, RuntimeError) as exc:
        raise ModelError(f"{name}: cannot load its weights ({str(exc).splitlines()[0]})") from None
    return Part(model.eval(), int(metadata.training_params.sequence_length),
                None if columns == list(range(len(feature_names))) else columns, scaler, float(weight))


class Composite(nn.Module):
    def __init__(self, parts: list[Part], intercept: float, window: int):
        super().__init__()
        used = [p for p in parts if p.weight != 0.0]
        self.window = window
        self.intercept = float(intercept)
        self.members = nn.ModuleList(p.model for p in used)
        self.starts = [window - p.length for p in used]
        # The weight and the member's target scale in one factor: w_i * target_std_i.
        self.factors = [p.weight * p.scaler.target_std for p in used]
        for i, p in enumerate(used):
            self.register_buffer(f"mean_{i}", torch.tensor(p.scaler.mean, dtype=torch.float32))
            self.register_buffer(f"std_{i}", torch.tensor(p.scaler.std, dtype=torch.float32))
            if p.columns is not None:
                self.register_buffer(f"columns_{i}", torch.tensor(p.columns, dtype=torch.long))
        self.selects = [p.columns is not None for p in used]

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """window: (batch, window, features) raw -> (batch,) combined log return."""
        if not len(self.members):  # every weight is 0: the intercept alone, one per window
            return window[:, -1, 0] * 0.0 + self.intercept
        total = None
        for i, member in enumerate(self.members):
            x = window[:, self.starts[i]:, :] if self.starts[i] else window
            if self.selects[i]:
                x = x.index_select(2, getattr(self, f"columns_{i}"))
            x = (x - getattr(self, f"mean_{i}")) / getattr(self, f"std_{i}")
            term = self.factors[i] * member(x)
            total = term if total is None else total + term
        return total + self.intercept


def build_composite(paths: list[Path], metadatas: list, weights: np.ndarray, intercept: float, window: int,
                    feature_names: list[str]) -> Composite:
    parts = [load_part(p, m, w, feature_names) for p, m, w in zip(paths, metadatas, weights, strict=True)]
    return Composite(parts, intercept, window).eval()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
