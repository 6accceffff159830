"""Choosing the torch device and a batch size that suits it."""

from __future__ import annotations

import torch

from atb.errors import UsageError

DEFAULT_BATCH = {"cpu": 32, "cuda": 512}  # a GPU is starved by small batches (see benchmarks/)


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError("--device cuda requested but no CUDA GPU is available (see 'atb dev gpu-check')")
        return torch.device(requested)
    if requested == "cpu":
        return torch.device("cpu")
    raise UsageError(f"unknown device {requested!r}; use auto, cpu or cuda")


def default_batch_size(device: torch.device) -> int:
    return DEFAULT_BATCH["cuda" if device.type == "cuda" else "cpu"]
