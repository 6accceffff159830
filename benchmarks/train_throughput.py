#!/usr/bin/env python
"""Training throughput in windows per second: forward, backward, gradient clipping and the Adam step.

The timed loop is the inner loop of atb.training.trainer.fit, step for step: windows gathered on the device
by DeviceData from one shuffled order of training anchors, the same loss, clipping and optimiser, the loss
accumulated on the device. Warm-up steps are left out of the clock, and CUDA is synchronised before each
reading of it. Data: the synthetic market through build_dataset, the features training really uses.

    python benchmarks/train_throughput.py                      # CPU (1 thread and all cores), CUDA if present
    python benchmarks/train_throughput.py --device cuda --sequence-length 120
    python benchmarks/train_throughput.py --quick              # a few seconds: checks the script works
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import (
    add_output_options,
    describe_machine,
    machine_facts,
    print_table,
    usable_cores,
    write_results,
)
from torch import nn

from atb.data.synthetic import synthetic_candles
from atb.features.dataset import Dataset, build_dataset, history_bars_needed
from atb.models.factory import build_model, count_parameters, model_config
from atb.models.registry import VARIANTS
from atb.models.registry import names as architecture_names
from atb.training.device import DEFAULT_BATCH
from atb.training.trainer import DeviceData, TrainConfig, seed_everything

CUDA_BATCHES = (64, 512)  # a small batch that starves the GPU, and the CUDA default


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda", "all"), default=None,
                   help="Default: cpu, and cuda too when a GPU is available. 'all' requires a GPU.")
    p.add_argument("--architectures", nargs="+", choices=architecture_names(), default=list(architecture_names()))
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=["default"],
                   help="Variants to measure (default: default), e.g. --variants lightweight default deep.")
    p.add_argument("--batch-size", nargs="+", type=int, default=None,
                   help=f"Batch sizes (default: {DEFAULT_BATCH['cpu']} on CPU; "
                        f"{' and '.join(map(str, CUDA_BATCHES))} on CUDA).")
    p.add_argument("--sequence-length", type=int, default=60, help="Candles per window (the GPU goal uses 120).")
    p.add_argument("--threads", nargs="+", type=int, default=None,
                   help=f"torch.set_num_threads values on CPU (default: 1 and {usable_cores()}, the core count).")
    p.add_argument("--steps", type=int, default=100, help="Timed optimiser steps per measurement.")
    p.add_argument("--warmup", type=int, default=10, help="Untimed steps first (allocator, cuDNN, thread pools).")
    p.add_argument("--days", type=float, default=90,
                   help="Days of synthetic 1h target candles; the training windows are cycled through.")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--quick", action="store_true",
                   help="Check the script: tcn only, 5 steps, 2 warm-up steps, 1 thread, 30 days.")
    add_output_options(p)
    args = p.parse_args()
    if args.quick:
        args.architectures, args.steps, args.warmup, args.days = ["tcn"], 5, 2, 30
        args.threads = args.threads or [1]
    if args.steps < 1 or args.warmup < 0:
        p.error("--steps must be at least 1 and --warmup at least 0")
    return args


def devices(choice: str | None) -> list[torch.device]:
    has_cuda = torch.cuda.is_available()
    if choice in ("cuda", "all") and not has_cuda:
        raise SystemExit(f"--device {choice}: no CUDA GPU is available (torch {torch.__version__})")
    if choice == "cpu" or (choice is None and not has_cuda):
        return [torch.device("cpu")]
    if choice == "cuda":
        return [torch.device("cuda")]
    return [torch.device("cpu"), torch.device("cuda")]


def synthetic_dataset(days: float, sequence_length: int) -> Dataset:
    """Windows of the synthetic 1h market: `days` of target candles plus the history the features need."""
    bars = int(round(days * 24))
    candles = synthetic_candles(bars + history_bars_needed(sequence_length), symbol="BTCUSDT", timeframe="1h")
    return build_dataset(candles, "1h", sequence_length=sequence_length,
                         first_target_time=candles["open_time"].iloc[-bars])


def anchor_order(data: DeviceData, windows: int, seed: int) -> torch.Tensor:
    """Training anchors in shuffled order, as fit draws them, repeated until `windows` long; on the device."""
    train = data.anchors["train"]
    generator = torch.Generator(device="cpu").manual_seed(seed)
    rounds = -(-windows // len(train))  # ceiling division
    perms = [torch.randperm(len(train), generator=generator) for _ in range(rounds)]
    return train[torch.cat(perms)[:windows].to(train.device)]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # kernels run asynchronously: wait for them before reading the clock


def measure(data: DeviceData, architecture: str, variant: str, batch: int, args: argparse.Namespace) -> dict:
    """Seconds per optimiser step of fit's inner loop, and the windows per second that gives."""
    device = data.features.device
    cfg = TrainConfig(batch_size=batch, seed=args.seed)
    seed_everything(cfg.seed)
    config = model_config(architecture, variant, data.features.shape[1], data.length)
    model = build_model(architecture, config).to(device).train()
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    order = anchor_order(data, (args.warmup + args.steps) * batch, args.seed)
    total = torch.zeros((), device=device)

    def step(i: int) -> None:  # the body of fit's batch loop
        x, y = data.batch(order[i * batch : (i + 1) * batch])
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        total.add_(loss.detach() * len(y))

    for i in range(args.warmup):
        step(i)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    t0 = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        step(i)
    sync(device)
    elapsed = time.perf_counter() - t0
    if not torch.isfinite(total):
        raise SystemExit(f"{architecture} ({variant}): the loss is not finite; the measurement is void")
    return {
        "architecture": architecture, "variant": variant, "parameters": count_parameters(model),
        "device": str(device), "batch_size": batch, "sequence_length": data.length, "steps": args.steps,
        "ms_per_step": 1e3 * elapsed / args.steps, "windows_per_s": args.steps * batch / elapsed,
        "peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
    }


def plan(device: torch.device, args: argparse.Namespace) -> list[tuple[int, int | None]]:
    """(batch size, CPU threads or None) pairs to measure on this device."""
    if device.type == "cuda":
        return [(b, None) for b in args.batch_size or CUDA_BATCHES]
    threads = args.threads or sorted({1, usable_cores()})
    return [(b, t) for t in threads for b in args.batch_size or [DEFAULT_BATCH["cpu"]]]


def main() -> None:
    args = parse_args()
    facts = machine_facts()
    dataset = synthetic_dataset(args.days, args.sequence_length)
    n_train = len(dataset.anchors["train"])
    default_threads = torch.get_num_threads()
    results = []
    for device in devices(args.device):
        data = DeviceData(dataset, device)
        for batch, threads in plan(device, args):
            torch.set_num_threads(threads or default_threads)
            for architecture in args.architectures:
                for variant in args.variants:
                    row = measure(data, architecture, variant, batch, args)
                    row["threads"] = threads
                    results.append(row)
                    print(f"  {device.type} {architecture} ({variant}) batch {batch} threads {threads or '-'}: "
                          f"{row['windows_per_s']:,.0f} windows/s", flush=True)
    torch.set_num_threads(default_threads)

    rows = [[f"{r['architecture']} ({r['variant']})", r["device"], r["parameters"], r["batch_size"],
             r["threads"] or "-", r["ms_per_step"], round(r["windows_per_s"]), r["peak_gpu_mb"]] for r in results]
    print_table(
        f"Training throughput · sequence length {args.sequence_length} · {args.steps} timed steps "
        f"after {args.warmup} warm-up · {n_train} training windows (synthetic)",
        ["model", "device", "params", "batch", "threads", "ms/step", "windows/s", "peak GPU MiB"], rows,
        caption=describe_machine(facts))
    write_results("train_throughput", args, results, facts)


if __name__ == "__main__":
    main()
