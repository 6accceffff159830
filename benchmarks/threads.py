#!/usr/bin/env python
"""Fit time by torch thread count, on a quiet machine and beside one CPU-bound process: the figures behind
atb's default thread rule (`atb.training.device.configure_threads`).

For each architecture and variant, `atb train model` (patience = epochs, so every epoch runs) with
`--threads 1`, `--threads <all cores>` and no flag (atb's default), each in a fresh process:
- quiet: nothing else running (the script warns when the load average says otherwise);
- busy: beside one process that spins on one core for the whole fit, as another job on a shared machine does.
A fourth column runs all cores with OpenMP's passive wait (`OMP_WAIT_POLICY=PASSIVE`), which atb set for a
while: it spares a busy machine but made two threads 1.3-2.6x slower than the best on a quiet one.

    python benchmarks/threads.py                        # 30 days busy and quiet, 365 days quiet (~15 min)
    python benchmarks/threads.py --quick                # 7 days, 2 epochs, tcn only: checks the script works
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from _common import (
    DEFAULT_DATA_FILE,
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

SPIN = "while True: pass"


def parse_args() -> argparse.Namespace:
    from atb.models.registry import VARIANTS, names

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--architectures", nargs="+", choices=names(), default=list(names()))
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--data-file", type=Path, default=DEFAULT_DATA_FILE)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--workloads", nargs="+", default=["busy:30", "quiet:30", "quiet:365"],
                   help="condition:days pairs (condition quiet or busy).")
    p.add_argument("--quick", action="store_true", help="7 days, 2 epochs, tcn default only.")
    add_output_options(p)
    args = p.parse_args()
    if args.quick:
        args.architectures, args.variants, args.epochs, args.workloads = ["tcn"], ["default"], 2, ["busy:7", "quiet:7"]
    return args


@contextmanager
def one_busy_core(busy: bool):
    proc = subprocess.Popen([sys.executable, "-c", SPIN]) if busy else None
    try:
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def fit_seconds(args: argparse.Namespace, arch: str, variant: str, days: int, threads: int | None,
                policy: str | None) -> float:
    source = ["--data-file", str(args.data_file)] if args.data_file.is_file() else ["--data-source", "synthetic"]
    with tempfile.TemporaryDirectory() as models:
        cmd = [sys.executable, "-m", "atb.cli.main", "train", "model", "BTCUSDT", "--model-type", arch,
               "--model-variant", variant, "--days", str(days), "--epochs", str(args.epochs), "--patience",
               str(args.epochs), "--no-db", "--json", "--models-dir", models, *source,
               *(["--threads", str(threads)] if threads else [])]
        env = quiet_env()
        env.pop("ATB_THREADS", None)
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        done = run_timed(cmd, env=env).check(f"{arch} {variant} threads={threads}")
    return json.loads(done.stdout)["performance"]["training_time_s"]


def main() -> None:
    args = parse_args()
    facts = machine_facts(probe_cuda=False)
    console.print(describe_machine(facts), highlight=False)
    cores = usable_cores()
    settings = {"1": (1, None), str(cores): (cores, None), "default": (None, None),
                f"{cores} passive": (cores, "PASSIVE")}
    results = []
    for workload in args.workloads:
        condition, days = workload.split(":")
        for arch in args.architectures:
            for variant in args.variants:
                with one_busy_core(condition == "busy"):
                    load = os.getloadavg()[0]
                    fits = {name: fit_seconds(args, arch, variant, int(days), t, pol)
                            for name, (t, pol) in settings.items()}
                best = min(fits.values())
                results.append({"condition": condition, "days": int(days), "architecture": arch, "variant": variant,
                                "load_before": load, "fit_s": fits, "default_vs_best": fits["default"] / best,
                                "default_vs_1": fits["default"] / fits["1"]})
                r = results[-1]
                console.print(f"{condition} {days}d {arch} {variant}: " + ", ".join(
                    f"{k} {v:.2f}s" for k, v in fits.items()) + f" · default/best {r['default_vs_best']:.2f}",
                    highlight=False)
    rows = [[f"{r['condition']} {r['days']}d {r['architecture']} {r['variant']}",
             *[r["fit_s"][k] for k in settings], r["default_vs_best"], r["default_vs_1"]] for r in results]
    print_table(f"Fit seconds by thread count, {args.epochs} epochs ({cores} cores)",
                ["workload", *[f"threads {k}" for k in settings], "default / best", "default / 1"], rows,
                caption="busy: beside one process spinning on one core; 'passive': OMP_WAIT_POLICY=PASSIVE "
                        "(the other columns use OpenMP's default, spinning wait)")
    write_results("threads", args, results, facts)


if __name__ == "__main__":
    main()
