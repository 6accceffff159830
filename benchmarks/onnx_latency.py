#!/usr/bin/env python
"""ONNX Runtime inference speed of every architecture and variant, as `atb predict` and the metadata see it.

Each model is exported with atb.models.export.export_onnx into a temporary folder and timed with
atb.evaluation.latency.measure_latency, the function that fills metadata.json: single-window latency
p50/p95 after warm-up with 1 intra-op thread, and batch throughput (batch 256, ONNX Runtime's default
threads). Untrained (seeded) weights: the speed of a graph does not depend on the values of its weights.

The TCN is also exported a second time as a Conv1d network with the same weights (built here, for this
comparison only) to record what atb's Conv2d-with-a-(1,k)-kernel formulation gains in ONNX Runtime.

    python benchmarks/onnx_latency.py                     # 3 architectures x 3 variants (a few minutes)
    python benchmarks/onnx_latency.py --quick             # tcn lightweight, few runs: checks the script works
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from _common import add_output_options, describe_machine, machine_facts, print_table, write_results
from torch import nn

from atb.evaluation.latency import measure_latency, onnx_session
from atb.features.indicators import FEATURES
from atb.models.export import export_onnx
from atb.models.factory import build_model, count_parameters, model_config
from atb.models.registry import VARIANTS
from atb.models.registry import names as architecture_names
from atb.models.tcn import TCN, CausalConv, ResidualBlock
from atb.training.trainer import seed_everything


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--architectures", nargs="+", choices=architecture_names(), default=list(architecture_names()))
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--sequence-length", type=int, default=60)
    p.add_argument("--batch", type=int, default=256, help="Batch size of the throughput figure.")
    p.add_argument("--runs", type=int, default=200, help="Timed single-window runs (p50/p95 over these).")
    p.add_argument("--warmup", type=int, default=20, help="Untimed single-window runs first.")
    p.add_argument("--batch-runs", type=int, default=20,
                   help="Timed batch runs per form in the TCN Conv2d/Conv1d comparison.")
    p.add_argument("--no-conv1d", action="store_true", help="Skip the TCN Conv2d vs Conv1d comparison.")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--quick", action="store_true",
                   help="Check the script: tcn lightweight, 20 runs, 5 warm-up, 3 batch runs.")
    add_output_options(p)
    args = p.parse_args()
    if args.quick:
        args.architectures, args.variants = ["tcn"], ["lightweight"]
        args.runs, args.warmup, args.batch_runs = 20, 5, 3
    return args


def windows(count: int, length: int, seed: int) -> np.ndarray:
    """Standard-normal windows (batch, L, F): the scale of the scaled features a model really receives."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((count, length, len(FEATURES)), dtype=np.float32)


def make_model(architecture: str, variant: str, length: int, seed: int) -> nn.Module:
    seed_everything(seed)
    return build_model(architecture, model_config(architecture, variant, len(FEATURES), length)).eval()


# --- the Conv1d TCN, for the comparison only ---------------------------------------------------------------

def conv1d_from(conv: nn.Conv2d) -> nn.Conv1d:
    """A Conv1d with the weights of a Conv2d whose kernel is (1, k): the same arithmetic along time."""
    c_out, c_in, _, k = conv.weight.shape
    out = nn.Conv1d(c_in, c_out, k, dilation=conv.dilation[1])
    with torch.no_grad():
        out.weight.copy_(conv.weight[:, :, 0, :])
        out.bias.copy_(conv.bias)
    return out


class Block1d(nn.Module):
    """ResidualBlock in Conv1d form (inference only: dropout is the identity in eval mode)."""

    def __init__(self, block: ResidualBlock):
        super().__init__()
        causal = [m for m in block.net if isinstance(m, CausalConv)]
        self.pads = [c.pad for c in causal]
        self.convs = nn.ModuleList(conv1d_from(c.conv) for c in causal)
        self.skip = conv1d_from(block.skip) if isinstance(block.skip, nn.Conv2d) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for conv, pad in zip(self.convs, self.pads, strict=True):
            h = torch.relu(conv(F.pad(h, (pad, 0))))
        return torch.relu(h + self.skip(x))


class Conv1dTCN(nn.Module):
    """atb's TCN, weights included, on (batch, channels, time) tensors with Conv1d layers."""

    def __init__(self, tcn: TCN):
        super().__init__()
        self.blocks = nn.Sequential(*(Block1d(b) for b in tcn.blocks))
        self.head = copy.deepcopy(tcn.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x.transpose(1, 2))  # (batch, channels, sequence)
        return self.head(h[:, :, -1]).squeeze(-1)


# --- measurements ------------------------------------------------------------------------------------------

def export(model: nn.Module, sample: np.ndarray, path: Path) -> float:
    """Export; return the seconds it took (the exporter's cost is part of every training run)."""
    t0 = time.perf_counter()
    export_onnx(model, torch.from_numpy(sample[:2]), path)
    return time.perf_counter() - t0


def latency_row(architecture: str, variant: str, model: nn.Module, folder: Path, args: argparse.Namespace) -> dict:
    batch = windows(args.batch, args.sequence_length, args.seed)
    path = folder / f"{architecture}_{variant}.onnx"
    export_s = export(model, batch, path)
    figures = measure_latency(path, batch[:1], batch, runs=args.runs, warmup=args.warmup)
    return {"architecture": architecture, "variant": variant, "parameters": count_parameters(model),
            "onnx_kb": path.stat().st_size / 1024, "export_s": export_s, **figures}


def median_ms(path: Path, x: np.ndarray, threads: int, runs: int, warmup: int) -> float:
    session = onnx_session(path, threads=threads)
    feed = {session.get_inputs()[0].name: x}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def conv_forms_rows(variant: str, tcn: TCN, folder: Path, args: argparse.Namespace) -> list[dict]:
    """The same TCN as exported (Conv2d, (1,k) kernel) and as Conv1d, at batch 1 and `--batch`."""
    batch = windows(args.batch, args.sequence_length, args.seed)
    forms = {"conv2d (1,k), as exported": tcn, "conv1d": Conv1dTCN(tcn).eval()}
    with torch.no_grad():
        diff = float((forms["conv1d"](torch.from_numpy(batch)) - tcn(torch.from_numpy(batch))).abs().max())
    if diff > 1e-4:
        raise SystemExit(f"the Conv1d TCN ({variant}) differs from atb's by {diff:.3g}: the comparison is void")
    rows = []
    for form, model in forms.items():
        path = folder / f"tcn_{variant}_{form.split()[0]}.onnx"
        export(model, batch, path)
        # Batch 1 as a forecast runs it (1 thread); the batch with ONNX Runtime's default threads.
        for size, threads, runs in ((1, 1, args.runs), (args.batch, 0, args.batch_runs)):
            ms = median_ms(path, batch[:size], threads, runs, warmup=max(1, args.warmup // 4))
            rows.append({"variant": variant, "form": form, "batch": size, "threads": threads or "default",
                         "median_ms": ms, "windows_per_s": size / ms * 1e3, "max_abs_diff_vs_conv2d": diff})
    return rows


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)  # the exporter's tracing only; ONNX Runtime sets its own threads
    facts = machine_facts(probe_cuda=False)  # inference runs on the CPU provider only
    latency, forms = [], []
    with tempfile.TemporaryDirectory(prefix="atb-onnx-bench-") as tmp:
        folder = Path(tmp)
        for architecture in args.architectures:
            for variant in args.variants:
                model = make_model(architecture, variant, args.sequence_length, args.seed)
                latency.append(latency_row(architecture, variant, model, folder, args))
                print(f"  {architecture} ({variant}): p50 {latency[-1]['inference_ms_p50']:.3f} ms", flush=True)
                if architecture == "tcn" and not args.no_conv1d:
                    forms += conv_forms_rows(variant, model, folder, args)

    print_table(
        f"ONNX Runtime inference · sequence length {args.sequence_length} · latency: 1 window, 1 thread, "
        f"{args.runs} runs after {args.warmup} warm-up · throughput: batch {args.batch}, default threads",
        ["model", "params", "onnx KiB", "export s", "p50 ms", "p95 ms", "windows/s (batch)"],
        [[f"{r['architecture']} ({r['variant']})", r["parameters"], r["onnx_kb"], r["export_s"],
          r["inference_ms_p50"], r["inference_ms_p95"], round(r["batch_throughput_per_s"])] for r in latency],
        caption=describe_machine(facts))
    if forms:
        print_table("TCN in ONNX Runtime: Conv2d with a (1,k) kernel (atb's export) vs Conv1d, same weights",
                    ["tcn variant · form", "batch", "threads", "median ms", "windows/s"],
                    [[f"{r['variant']} · {r['form']}", r["batch"], str(r["threads"]), r["median_ms"],
                      round(r["windows_per_s"])] for r in forms])
    write_results("onnx_latency", args, {"latency": latency, "tcn_conv_forms": forms}, facts)


if __name__ == "__main__":
    main()
