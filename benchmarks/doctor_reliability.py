#!/usr/bin/env python
"""How often the doctor's known-signal check fails a correct pipeline, and how often its placebo flags one.

The doctor's own code (atb.doctor.runner.DoctorRuns: train_model into a temporary registry, the same scoring and
rules) on --markets different seeds of its known-signal and placebo markets, at the --mode preset. A failure of
the known-signal check here is a false failure (atb's pipeline is correct); a flag of the placebo is a false
positive (each market's architectures are Holm-corrected, so chance allows about 5% of markets).

    python benchmarks/doctor_reliability.py                      # 12 markets, quick preset: 15-30 min on 2 cores
    python benchmarks/doctor_reliability.py --what signal --markets 20
    python benchmarks/doctor_reliability.py --quick              # 2 markets, the baseline only: checks the script
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from _common import add_output_options, console, describe_machine, machine_facts, print_table, write_results

from atb.doctor import markets
from atb.doctor.result import Status
from atb.doctor.runner import DoctorRuns
from atb.doctor.settings import make_doctor_settings
from atb.models.registry import baseline


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("quick", "full"), default="quick", help="The doctor's preset.")
    p.add_argument("--markets", type=int, default=12, help="Market seeds (the doctor's own is one of them).")
    p.add_argument("--what", choices=("signal", "placebo", "both"), default="both")
    p.add_argument("--models", default=None, help="As atb doctor --models (default: every architecture).")
    p.add_argument("--threads", type=int, default=1, help="Torch threads per training run.")
    p.add_argument("--quick", action="store_true", help="Check the script: 2 markets, the baseline only.")
    add_output_options(p)
    args = p.parse_args()
    if args.quick:
        args.markets, args.models = 2, baseline().name
    return args


def main() -> None:
    args = parse_args()
    facts = machine_facts(probe_cuda=False)
    console.print(describe_machine(facts), highlight=False)
    settings = dataclasses.replace(make_doctor_settings(quick=args.mode == "quick", models=args.models),
                                   device="cpu", threads=args.threads)
    results: dict[str, list[dict]] = {"signal": [], "placebo": []}
    kinds = ("signal", "placebo") if args.what == "both" else (args.what,)
    started = time.perf_counter()
    for i in range(args.markets):
        for kind in kinds:
            base = markets.SIGNAL if kind == "signal" else markets.PLACEBO
            market = dataclasses.replace(base, seed=base.seed + 100 * i)  # i = 0: the doctor's own market
            with tempfile.TemporaryDirectory(prefix="doctor-reliability-") as tmp:
                runs = DoctorRuns(settings, Path(tmp), lambda message: None)
                checks = runs.known_signal(market)[0] if kind == "signal" else runs.placebo(market)
            for c in checks:
                results[kind].append({"market_seed": market.seed, "model": c.name, "status": c.status.value,
                                      "share": c.figures.get("share_of_attainable"),
                                      "p": c.figures.get("dm_p_one_sided_vs_naive"), "p_holm": c.figures.get("p_holm")})
                console.print(f"{kind} market {market.seed}: {c.status.value} {c.name}: {c.summary}",
                              highlight=False, soft_wrap=True)
    rows = []
    for kind in kinds:
        for model in settings.labels():
            mine = [r for r in results[kind] if r["model"] == model]
            bad = sum(r["status"] == Status.FAIL.value for r in mine)
            shares = [r["share"] for r in mine if r["share"] is not None]
            rows.append([f"{kind}: {model}", len(mine), bad, f"{bad / len(mine):.0%}" if mine else "-",
                         min(shares) if kind == "signal" and shares else None,
                         statistics.median(shares) if kind == "signal" and shares else None])
        seeds = {r["market_seed"] for r in results[kind]}
        failed = {r["market_seed"] for r in results[kind] if r["status"] == Status.FAIL.value}
        rows.append([f"{kind}: markets with any FAIL", len(seeds), len(failed),
                     f"{len(failed) / len(seeds):.0%}" if seeds else "-", None, None])
    print_table(f"Doctor reliability ({args.mode} preset, {args.markets} markets, "
                f"{time.perf_counter() - started:.0f} s): failures of a correct pipeline",
                ["check", "runs", "FAIL", "rate", "min share", "median share"], rows)
    write_results("doctor_reliability", args, results, facts)


if __name__ == "__main__":
    main()
