#!/usr/bin/env python
"""How long `atb doctor` takes, as a user waits for it: one subprocess timed from the fork to the exit, with the
time of each family of checks from its --json output and the peak RSS.

The doctor runs on the team's BTCUSDT 1h file (or the synthetic market when the file is absent, and the output
says so) into temporary ATB_DATA_DIR and ATB_MODELS_DIR, with no run log, and ATB_THREADS set to --threads.

    python benchmarks/doctor_time.py                 # atb doctor --quick, 2 threads: 2-3 minutes on 2 cores
    python benchmarks/doctor_time.py --mode full     # the full doctor (3 seeds, longer markets)
    python benchmarks/doctor_time.py --quick         # the baseline architecture only: checks the script works
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import (
    DEFAULT_DATA_FILE,
    add_output_options,
    console,
    describe_machine,
    machine_facts,
    median,
    print_table,
    quiet_env,
    run_timed,
    usable_cores,
    write_results,
)
from startup import atb_command

from atb.doctor.result import FAMILIES
from atb.models.registry import baseline


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("quick", "full"), default="quick", help="atb doctor --quick, or the full one.")
    p.add_argument("--data-file", type=Path, default=DEFAULT_DATA_FILE, help="The user's candles.")
    p.add_argument("--threads", type=int, nargs="+", default=sorted({1, usable_cores()}),
                   help="ATB_THREADS values to measure (default: 1 and the usable cores).")
    p.add_argument("--runs", type=int, default=1, help="Runs per thread count; the median wall time is reported.")
    p.add_argument("--quick", action="store_true", help="Check the script: the baseline architecture only.")
    add_output_options(p)
    args = p.parse_args()
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def measure(cmd: list[str], threads: int, runs: int) -> dict:
    walls, reports, rss = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="doctor-time-") as tmp:
            env = quiet_env(ATB_THREADS=str(threads), ATB_DATA_DIR=f"{tmp}/data", ATB_MODELS_DIR=f"{tmp}/models")
            timed = run_timed(cmd, env=env)
        if timed.returncode not in (0, 1):  # 1: a check failed, which is a result, not a broken run
            timed.check("atb doctor")
        walls.append(timed.wall_s)
        rss.append(timed.max_rss_mb)
        reports.append(json.loads(timed.stdout))
    report = reports[len(reports) // 2]
    families = {name: sum(c["seconds"] for c in report["checks"] if c["family"] == key)
                for key, name in FAMILIES.items()}
    return {"threads": threads, "wall_s": walls, "median_wall_s": median(walls), "max_rss_mb": max(rss),
            "family_s": families, "status": report["status"], "counts": report["counts"]}


def main() -> None:
    args = parse_args()
    facts = machine_facts(probe_cuda=False)
    console.print(describe_machine(facts), highlight=False)
    source = (["--data-file", str(args.data_file)] if args.data_file.is_file() else ["--data-source", "synthetic"])
    if not args.data_file.is_file():
        console.print(f"[yellow]{args.data_file} is absent: the doctor checks the synthetic market's candles[/yellow]")
    cmd = [*atb_command(), "doctor", "BTCUSDT", *source, "--json", *(["--quick"] if args.mode == "quick" else []),
           *(["--models", baseline().name] if args.quick else [])]
    measured = [measure(cmd, threads, args.runs) for threads in args.threads]
    rows = [[name, *(m["family_s"][name] for m in measured)] for name in FAMILIES.values()]
    rows += [["total (fork to exit, median)", *(m["median_wall_s"] for m in measured)],
             ["peak RSS (MB)", *(m["max_rss_mb"] for m in measured)],
             ["result", *(m["status"] for m in measured)]]
    print_table(f"atb doctor ({args.mode}{', baseline only' if args.quick else ''}): seconds, {args.runs} run(s) each",
                ["", *(f"{m['threads']} thread(s)" for m in measured)], rows)
    write_results("doctor_time", args, {"command": cmd[1:], "measured": measured}, facts)


if __name__ == "__main__":
    main()
