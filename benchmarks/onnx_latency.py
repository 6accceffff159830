#!/usr/bin/env python
"""ONNX Runtime inference speed of every architecture and variant, as `atb predict` and the metadata see it.

Each model of the architecture table (atb.models.registry) in each variant is exported with
atb.models.export.export_onnx into a temporary folder and timed with atb.evaluation.latency.measure_latency,
the function that fills metadata.json: single-window latency p50/p95 after warm-up with 1 intra-op thread, and
batch throughput (batch 256, ONNX Runtime's default threads). With --repeats N each model is measured N times,
the models taking turns, and the medians are reported (a load that comes and goes then hits them alike). The
table checks the single-window p50 against the goals in TARGET_MS. Untrained (seeded) weights: the speed of a
graph does not depend on the values of its weights.

--levers also times each model under the alternatives to atb's choices, again taking turns: ONNX Runtime's
graph optimisation levels, two intra-op threads, the graph optimised offline and saved, the dynamo exporter, and
the TorchScript exporter's raw graph (before export_onnx folds and fuses it); the record of why atb exports and
opens sessions as it does.

The TCN is also exported a second time as a Conv1d network with the same weights (built here, for this
comparison only) to record what atb's Conv2d-with-a-(1,k)-kernel formulation gains in ONNX Runtime.

    python benchmarks/onnx_latency.py --repeats 5 --levers   # every architecture x 3 variants (several minutes)
    python benchmarks/onnx_latency.py --quick                # tcn lightweight, few runs: checks the script works
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from _common import add_output_options, describe_machine, machine_facts, print_table, write_results
from torch import nn

from atb.evaluation.latency import measure_latency, onnx_session
from atb.features.indicators import FEATURES
from atb.models.export import OPSET, export_onnx
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
    p.add_argument("--repeats", type=int, default=3, help="Measurements of each model, in turns; medians reported.")
    p.add_argument("--levers", action="store_true",
                   help="Also time every model under the alternatives to atb's session options and exporter.")
    p.add_argument("--lever-rounds", type=int, default=5, help="Turns of the --levers comparison.")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--quick", action="store_true",
                   help="Check the script: tcn lightweight, 20 runs, 5 warm-up, 3 batch runs.")
    add_output_options(p)
    args = p.parse_args()
    if args.quick:
        args.architectures, args.variants = ["tcn"], ["lightweight"]
        args.runs, args.warmup, args.batch_runs, args.repeats, args.lever_rounds = 20, 5, 3, 1, 1
    return args


# Issue 15's goals for the single-window p50 on a quiet 2-core machine.
TARGET_MS = {"lightweight": 0.15, "default": 0.15, "deep": 0.4}


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


def latency_rows(models: dict[tuple[str, str], nn.Module], folder: Path,
                 args: argparse.Namespace) -> tuple[list[dict], dict[tuple[str, str], Path]]:
    """Export every model, then measure them `--repeats` times in turns; medians of the figures."""
    batch = windows(args.batch, args.sequence_length, args.seed)
    rows, paths = {}, {}
    for (architecture, variant), model in models.items():
        path = paths[(architecture, variant)] = folder / f"{architecture}_{variant}.onnx"
        rows[(architecture, variant)] = {
            "architecture": architecture, "variant": variant, "parameters": count_parameters(model),
            "export_s": export(model, batch, path), "onnx_kb": path.stat().st_size / 1024, "runs": []}
    for _ in range(args.repeats):
        for key, path in paths.items():
            rows[key]["runs"].append(measure_latency(path, batch[:1], batch, runs=args.runs, warmup=args.warmup))
    out = []
    for row in rows.values():
        runs = row.pop("runs")
        figures = {k: float(np.median([r[k] for r in runs]))
                   for k in ("inference_ms_p50", "inference_ms_p95", "batch_throughput_per_s")}
        target = TARGET_MS[row["variant"]]
        out.append({**row, **figures, "batch_size_for_throughput": args.batch,
                    "inference_ms_p50_repeats": [r["inference_ms_p50"] for r in runs],
                    "target_ms": target, "meets_target": figures["inference_ms_p50"] < target})
        print(f"  {row['architecture']} ({row['variant']}): p50 {figures['inference_ms_p50']:.3f} ms", flush=True)
    return out, paths


# --- levers: the alternatives to atb's session options and exporter ------------------------------------------

LEVELS = {"extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
          "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC}


def plain_session(path: Path, threads: int = 1, level: ort.GraphOptimizationLevel | None = None,
                  optimized_to: Path | None = None) -> ort.InferenceSession:
    """A session like atb's (runtime.onnx_session: 1 thread, ORT's default optimisation) but for one change."""
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    if level is not None:
        options.graph_optimization_level = level
    if optimized_to is not None:
        options.optimized_model_filepath = str(optimized_to)
        options.log_severity_level = 3  # its warning is the point made in the README: the file is machine-specific
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_with(model: nn.Module, sample: np.ndarray, path: Path, dynamo: bool) -> Path:
    """The model through one exporter, as it comes out (export_onnx post-processes the TorchScript graph)."""
    x = torch.from_numpy(sample[:2])
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(model, (x,), dynamo=True, external_data=False, verbose=False, input_names=["window"],
                              output_names=["log_return_scaled"],
                              dynamic_shapes=({0: torch.export.Dim("batch")},)).save(str(path))
        else:
            torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["window"],
                              output_names=["log_return_scaled"], dynamic_axes={"window": {0: "batch"}},
                              opset_version=OPSET)
    return path


def lever_sessions(model: nn.Module, path: Path, folder: Path, sample: np.ndarray) -> dict[str, ort.InferenceSession]:
    stem = path.stem
    offline = folder / f"{stem}.optimized.onnx"
    plain_session(path, optimized_to=offline)  # ORT_ENABLE_ALL, saved; loaded below with nothing left to do
    return {
        "as exported, atb session": onnx_session(path),
        "graph opt EXTENDED": plain_session(path, level=LEVELS["extended"]),
        "graph opt BASIC": plain_session(path, level=LEVELS["basic"]),
        "2 intra-op threads": onnx_session(path, threads=2),
        "optimised offline, saved": plain_session(offline, level=ort.GraphOptimizationLevel.ORT_DISABLE_ALL),
        "dynamo export": onnx_session(export_with(model, sample, folder / f"{stem}.dynamo.onnx", True)),
        "TorchScript export, raw": onnx_session(export_with(model, sample, folder / f"{stem}.ts.onnx", False)),
    }


def lever_rows(models: dict[tuple[str, str], nn.Module], paths: dict[tuple[str, str], Path], folder: Path,
               args: argparse.Namespace) -> list[dict]:
    """Single-window median latency of every model under every lever, in `--lever-rounds` turns."""
    sample = windows(2, args.sequence_length, args.seed)
    x = sample[:1]
    sessions = {key: lever_sessions(models[key], paths[key], folder, sample) for key in paths}
    times: dict[tuple, list[float]] = {}
    for _ in range(args.lever_rounds):
        for key, by_lever in sessions.items():
            for lever, session in by_lever.items():
                times.setdefault((*key, lever), []).append(session_median_ms(session, x, args.runs, args.warmup))
    reference = {key: np.median(times[(*key, "as exported, atb session")]) for key in sessions}
    return [{"architecture": a, "variant": v, "lever": lever, "median_ms": float(np.median(ms)),
             "vs_atb": float(np.median(ms) / reference[(a, v)])} for (a, v, lever), ms in times.items()]


def session_median_ms(session: ort.InferenceSession, x: np.ndarray, runs: int, warmup: int) -> float:
    feed = {session.get_inputs()[0].name: x}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


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
    forms, levers = [], []
    with tempfile.TemporaryDirectory(prefix="atb-onnx-bench-") as tmp:
        folder = Path(tmp)
        models = {(a, v): make_model(a, v, args.sequence_length, args.seed)
                  for a in args.architectures for v in args.variants}
        latency, paths = latency_rows(models, folder, args)
        if args.levers:
            levers = lever_rows(models, paths, folder, args)
        if "tcn" in args.architectures and not args.no_conv1d:
            for variant in args.variants:
                forms += conv_forms_rows(variant, models[("tcn", variant)], folder, args)
    facts["load_average_1m_after"] = round(os.getloadavg()[0], 2)

    print_table(
        f"ONNX Runtime inference · sequence length {args.sequence_length} · latency: 1 window, 1 thread, "
        f"{args.runs} runs after {args.warmup} warm-up, median of {args.repeats} turns · throughput: batch "
        f"{args.batch}, default threads",
        ["model", "params", "onnx KiB", "export s", "p50 ms", "p95 ms", "goal p50", "windows/s (batch)"],
        [[f"{r['architecture']} ({r['variant']})", r["parameters"], r["onnx_kb"], r["export_s"],
          r["inference_ms_p50"], r["inference_ms_p95"],
          f"< {r['target_ms']} {'ok' if r['meets_target'] else 'MISSED'}", round(r["batch_throughput_per_s"])]
         for r in latency],
        caption=describe_machine(facts) + f" · load after {facts['load_average_1m_after']}")
    if levers:
        names = list(dict.fromkeys(r["lever"] for r in levers))
        by_model: dict[str, dict[str, dict]] = {}
        for r in levers:
            by_model.setdefault(f"{r['architecture']} ({r['variant']})", {})[r["lever"]] = r
        print_table(f"Single-window median ms under each alternative ({args.lever_rounds} turns; x: vs atb's)",
                    ["model", *names],
                    [[label, *(f"{cells[n]['median_ms']:.3f} ({cells[n]['vs_atb']:.2f}x)" for n in names)]
                     for label, cells in by_model.items()])
    if forms:
        print_table("TCN in ONNX Runtime: Conv2d with a (1,k) kernel (atb's export) vs Conv1d, same weights",
                    ["tcn variant · form", "batch", "threads", "median ms", "windows/s"],
                    [[f"{r['variant']} · {r['form']}", r["batch"], str(r["threads"]), r["median_ms"],
                      round(r["windows_per_s"])] for r in forms])
    write_results("onnx_latency", args, {"latency": latency, "levers": levers, "tcn_conv_forms": forms}, facts)


if __name__ == "__main__":
    main()
