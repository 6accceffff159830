"""Choosing the torch device and a batch size that suits it."""

from __future__ import annotations

import os

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


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


DEFAULT_THREADS = 1


def configure_threads(requested: int | None) -> int:
    """Set torch's CPU threads: --threads, else ATB_THREADS, else one.

    One thread is the default because it never backfires (benchmarks/threads.py, 2-core AMD EPYC, default
    variants): beside one busy process it was the fastest setting for every architecture (a second thread made a
    30-day fit 1.2-3.7x slower), and on a quiet machine it is 1.14-1.39x slower than two spinning threads, where
    OpenMP's passive wait made two threads 1.3-2.6x slower than the best. Ask for more with --threads N on a
    machine you have to yourself.
    """
    value = requested or os.environ.get("ATB_THREADS") or DEFAULT_THREADS
    try:
        threads = int(value)
    except ValueError:
        raise UsageError(f"ATB_THREADS must be a whole number, got {value!r}") from None
    if threads < 1:
        raise UsageError(f"--threads must be at least 1 (got {threads})")
    torch.set_num_threads(threads)
    return threads


def busy_cores_warning(threads: int) -> str | None:
    """A hint when other processes already load the cores that the training threads need."""
    cores = available_cores()
    load = os.getloadavg()[0]
    if threads > 1 and load > cores - threads + 0.75:
        return (f"the machine is busy (load {load:.1f} on {cores} cores): training with {threads} threads may be "
                "much slower than usual; --threads 1 (or ATB_THREADS=1) avoids that")
    return None
