#!/usr/bin/env python
"""ONNX Runtime latency of a stacking ensemble's model.onnx (atb.ensemble), against its members alone.

The ensemble is the composite that `atb train ensemble` exports (atb.ensemble.composite): one window of raw
features in, each member's slice, scaler and network inside, the weighted sum out. Its members here are the
default variants of the architectures given (untrained, seeded: the speed of a graph does not depend on its
weights), every weight non-zero (the slowest case: NNLS may drop a member, and a member of weight 0 is left out
of the graph). Each graph is exported with atb.models.export.export_onnx and timed with
atb.evaluation.latency.measure_latency (what fills metadata.json: one window, one intra-op thread, after warm-up;
p50 until stable), the ensemble and its members taking turns, --repeats times; medians are reported. The goal
(issue 15): a 3-member ensemble of default variants under 0.4 ms on a quiet 2-core machine.

    python benchmarks/ensemble_latency.py --repeats 5        # cnn_lstm + attention_lstm + tcn, default variants
    python benchmarks/ensemble_latency.py --quick            # few runs: checks the script works
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from _common import add_output_options, describe_machine, machine_facts, print_table, write_results

from atb.ensemble.composite import Composite, Part
from atb.evaluation.latency import measure_latency
from atb.features.indicators import FEATURES
from atb.features.scaler import Scaler
from atb.models.export import export_onnx
from atb.models.factory import build_model, count_parameters, model_config
from atb.training.trainer import seed_everything

TARGET_MS = 0.4  # issue 15: a 3-member ensemble of default variants


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", nargs="+", default=["cnn_lstm", "attention_lstm", "tcn"],
                   help="Architectures of the members (default variant each).")
    p.add_argument("--variant", default="default")
    p.add_argument("--sequence-length", type=int, default=60)
    p.add_argument("--runs", type=int, default=200, help="Timed single-window runs per round (p50/p95 over them).")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3, help="Measurements of each graph, in turns; medians reported.")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--quick", action="store_true", help="Check the script: 20 runs, 5 warm-up, 1 repeat.")
    add_output_options(p)
    args = p.parse_args()
    if args.quick:
        args.runs, args.warmup, args.repeats = 20, 5, 1
    return args


def member(architecture: str, variant: str, length: int, seed: int, weight: float) -> Part:
    seed_everything(seed)
    model = build_model(architecture, model_config(architecture, variant, len(FEATURES), length)).eval()
    rng = np.random.default_rng(seed)
    scaler = Scaler(list(FEATURES), rng.normal(0, 0.01, len(FEATURES)), rng.uniform(0.5, 2, len(FEATURES)), 0.005)
    return Part(model, length, None, scaler, weight)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)  # the exporter's tracing only; ONNX Runtime sets its own threads
    facts = machine_facts(probe_cuda=False)
    weight = 1.0 / len(args.members)  # every member in the graph (NNLS may leave one out: faster)
    parts = [member(a, args.variant, args.sequence_length, args.seed + i, weight) for i, a in enumerate(args.members)]
    composite = Composite(parts, 0.0, args.sequence_length).eval()
    rng = np.random.default_rng(args.seed)
    batch = rng.normal(0, 0.01, (256, args.sequence_length, len(FEATURES))).astype(np.float32)
    graphs = {"ensemble (" + " + ".join(args.members) + ")": (composite, batch)}
    for a, p in zip(args.members, parts, strict=True):
        scaled = ((batch - p.scaler.mean) / p.scaler.std).astype(np.float32)
        graphs[f"{a} ({args.variant}) alone"] = (p.model, scaled)
    rows: dict[str, list[dict]] = {name: [] for name in graphs}
    with tempfile.TemporaryDirectory(prefix="atb-ensemble-bench-") as tmp:
        paths = {}
        for i, (name, (model, x)) in enumerate(graphs.items()):
            paths[name] = Path(tmp) / f"{i}.onnx"
            export_onnx(model, torch.from_numpy(x[:2]), paths[name])
        for _ in range(args.repeats):
            for name, (_, x) in graphs.items():
                rows[name].append(measure_latency(paths[name], x[:1], x, runs=args.runs, warmup=args.warmup))
    table, results = [], []
    members_sum = 0.0
    for name, (model, _) in graphs.items():
        p50 = float(np.median([r["inference_ms_p50"] for r in rows[name]]))
        p95 = float(np.median([r["inference_ms_p95"] for r in rows[name]]))
        throughput = float(np.median([r["batch_throughput_per_s"] for r in rows[name]]))
        if name.endswith("alone"):
            members_sum += p50
        results.append({"graph": name, "parameters": count_parameters(model), "inference_ms_p50": p50,
                        "inference_ms_p95": p95, "batch_throughput_per_s": throughput,
                        "p50_each_repeat": [r["inference_ms_p50"] for r in rows[name]]})
        table.append([name, count_parameters(model), p50, p95, round(throughput)])
    ensemble = results[0]
    verdict = "meets" if ensemble["inference_ms_p50"] < TARGET_MS else "misses"
    print_table(f"Ensemble model.onnx vs its members · sequence length {args.sequence_length} · 1 window, 1 thread, "
                f"median of {args.repeats} turns", ["graph", "params", "p50 ms", "p95 ms", "windows/s (batch 256)"],
                table, caption=f"{describe_machine(facts)}\nensemble p50 {ensemble['inference_ms_p50']:.3f} ms "
                               f"{verdict} the {TARGET_MS} ms goal; the members alone sum to {members_sum:.3f} ms")
    write_results("ensemble_latency", args, {"graphs": results, "members_p50_sum_ms": members_sum,
                                             "target_ms": TARGET_MS}, facts)


if __name__ == "__main__":
    main()
