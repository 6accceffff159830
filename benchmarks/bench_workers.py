#!/usr/bin/env python
"""Wall time of the Phase-1 benchmark by --workers: `scripts/phase1_benchmark.py ... --workers K` for each K, each
in a fresh process on the same data and seeds, and whether every run's metrics agree with K=1's (rel 1e-6).

--workers 1 is the serial in-process loop with atb's default threads (every core); --workers K runs K worker
processes with cores / K torch threads each (benchmark.executors). The load average before and after each run
is recorded beside the figures: on a shared machine, other work takes cores from both sides unevenly.

    python benchmarks/bench_workers.py                                # --full --seeds 3, workers 1 and 2
    python benchmarks/bench_workers.py --mode quick --seeds 2         # a smaller plan (~minutes on 2 cores)
    python benchmarks/bench_workers.py --mode full --days 7 --workers 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from _common import (
    DEFAULT_DATA_FILE,
    ROOT,
    add_output_options,
    console,
    describe_machine,
    machine_facts,
    print_table,
    quiet_env,
    run_timed,
    usable_cores,
    write_results,
)

COMPARED = ("test_rmse", "test_mae", "mape", "directional_accuracy", "naive_test_rmse", "rmse_skill_vs_naive",
            "dm_vs_naive_p", "epochs_run")
TOLERANCE = 1e-6


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("quick", "full"), default="full")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--days", type=float, default=None, help="Override the preset's days.")
    p.add_argument("--epochs", type=int, default=None, help="Override the preset's epochs.")
    p.add_argument("--models", default=None, help="--models for the benchmark (default: every architecture).")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--threads", type=int, default=None,
                   help="--threads for every K (default: atb's rule, all cores for K=1 and cores / K per worker). "
                        "Equal threads per run make the metrics identical; a different thread count alone can move "
                        "an architecture's last digits (tcn_attention: ~4e-6 in RMSE between 1 and 2 threads).")
    p.add_argument("--data-file", type=Path, default=DEFAULT_DATA_FILE,
                   help="Candle file (default: the shared BTCUSDT 1h file; synthetic candles where it is absent).")
    add_output_options(p)
    return p.parse_args()


def command(args: argparse.Namespace, workers: int, models_dir: Path, output_dir: Path) -> list[str]:
    cmd = [sys.executable, str(ROOT / "scripts" / "phase1_benchmark.py"), f"--{args.mode}", "--seeds",
           str(args.seeds), "--workers", str(workers), "--models-dir", str(models_dir), "--output-dir",
           str(output_dir), "--no-db"]
    if args.days is not None:
        cmd += ["--days", f"{args.days:g}"]
    if args.epochs is not None:
        cmd += ["--epochs", str(args.epochs)]
    if args.models:
        cmd += ["--models", args.models]
    if args.threads is not None:
        cmd += ["--threads", str(args.threads)]
    cmd += ["--data-file", str(args.data_file)] if args.data_file.is_file() else ["--data-source", "synthetic"]
    return cmd


def rel_diffs(runs: list[dict], reference: list[dict]) -> dict | None:
    """Per architecture and metric, the largest relative difference from the reference's run of the same plan
    index; None when a run is missing or failed on either side."""
    ref = {r["index"]: r for r in reference}
    out: dict[str, dict[str, float]] = {}
    for run in runs:
        other = ref.get(run["index"])
        if other is None or run["status"] != "completed" or other["status"] != "completed":
            return None
        arch = out.setdefault(f"{run['architecture']}:{run['variant']}", {})
        for key in COMPARED:
            a, b = run["metrics"].get(key), other["metrics"].get(key)
            if a is None or b is None:
                continue
            arch[key] = max(arch.get(key, 0.0), abs(a - b) / max(abs(b), 1e-300))
    return out


def worst(diffs: dict | None, keys: tuple[str, ...] = COMPARED) -> float | None:
    if diffs is None:
        return None
    return max((v for per in diffs.values() for k, v in per.items() if k in keys), default=0.0)


def main() -> None:
    args = parse_args()
    facts = machine_facts(probe_cuda=False)
    console.print(describe_machine(facts), highlight=False)
    cores = usable_cores()
    rows, results, reference = [], [], None
    with tempfile.TemporaryDirectory(prefix="atb-bench-workers-") as tmp:
        for k in args.workers:
            cmd = command(args, k, Path(tmp) / f"models-{k}", Path(tmp) / f"out-{k}")
            load_before = os.getloadavg()
            console.print(f"[dim]$ {' '.join(cmd[1:])}[/dim]", highlight=False, soft_wrap=True)
            timed = run_timed(cmd, env=quiet_env(ATB_DATA_DIR=str(Path(tmp) / "data")))
            load_after = os.getloadavg()
            data_path = Path(tmp) / f"out-{k}" / "phase1_results.json"
            runs = json.loads(data_path.read_text())["runs"] if data_path.is_file() else []
            if timed.returncode != 0:
                console.print(f"[red]exit {timed.returncode}[/red]: {timed.stderr.strip().splitlines()[-1:]}")
            if k == 1:
                reference = runs
            diffs = rel_diffs(runs, reference) if reference is not None else None
            threads = args.threads or (cores if k == 1 else max(1, cores // k))
            entry = {"workers": k, "threads_per_worker": threads, "wall_s": timed.wall_s, "exit_code": timed.returncode,
                     "runs": len(runs), "completed": sum(r["status"] == "completed" for r in runs),
                     "run_wall_s": {f"{r['index']} {r['architecture']} seed {r['seed']}": r["wall_s"] for r in runs},
                     "max_rel_diff_vs_workers_1": worst(diffs),
                     "max_rel_diff_test_rmse": worst(diffs, ("test_rmse",)), "rel_diffs_by_model": diffs,
                     "load_before": list(load_before),
                     "load_after": list(load_after), "command": [Path(c).name if i < 2 else c
                                                                 for i, c in enumerate(cmd)]}
            results.append(entry)
    base = next((r["wall_s"] for r in results if r["workers"] == 1), None)
    for r in results:
        r["speedup_vs_workers_1"] = None if base is None else base / r["wall_s"]
        rows.append([str(r["workers"]), str(r["threads_per_worker"]), r["wall_s"], r["speedup_vs_workers_1"],
                     f"{r['completed']}/{r['runs']}",
                     "-" if r["max_rel_diff_vs_workers_1"] is None else f"{r['max_rel_diff_vs_workers_1']:.1e}",
                     "-" if r["max_rel_diff_test_rmse"] is None else f"{r['max_rel_diff_test_rmse']:.1e}",
                     f"{r['load_before'][0]:.2f} / {r['load_after'][0]:.2f}"])
    what = f"--{args.mode} --seeds {args.seeds}" + (f" --days {args.days:g}" if args.days is not None else "") + (
        f" --epochs {args.epochs}" if args.epochs is not None else "") + (
        f" --threads {args.threads}" if args.threads is not None else "")
    print_table(f"phase1_benchmark.py {what} by --workers ({cores} cores)",
                ["workers", "threads each", "wall s", "speedup", "runs ok",
                 f"max rel diff, any metric (tol {TOLERANCE:g})",
                 "max rel diff, RMSE",
                 "load 1-min before / after"], rows)
    write_results("bench_workers", args, results, facts)


if __name__ == "__main__":
    main()
