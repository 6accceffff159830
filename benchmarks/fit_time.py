#!/usr/bin/env python
"""Fit and wall times of the two whole workloads that users wait for.

(a) phase1: `python scripts/phase1_benchmark.py --full --seeds 1 --data-file FILE --no-db ...` in a
    subprocess, timed from the fork to the exit: interpreter start, imports, reading the file, three
    trainings of 30 days x 20 epochs (early stopping on), evaluation, ONNX export, report and plot.
(b) year: per architecture, 365 days x 20 epochs of the default variant with patience 20, so that every
    epoch runs: the fit time (metadata performance.training_time_s) and the wall time of train_model
    (data, features, fit, evaluation, export, parity, latency, publishing), in this process.

Data: the BTCUSDT 1h file in ../shared/data when present, else the synthetic market (the output says so).

    python benchmarks/fit_time.py                 # both workloads (tens of minutes on a laptop CPU)
    python benchmarks/fit_time.py --quick         # tiny versions of both: checks the script works
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
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
    write_results,
)

from atb.errors import AtbError
from atb.models.registry import VARIANTS
from atb.models.registry import names as architecture_names


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", choices=("phase1", "year", "all"), default="all")
    p.add_argument("--data-file", type=Path, default=DEFAULT_DATA_FILE,
                   help="Candle file (default ../shared/data/BTCUSDT_1h_2017-08_2022-12.csv); "
                        "the synthetic market when it is absent.")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (passed to training).")
    p.add_argument("--architectures", nargs="+", choices=architecture_names(), default=list(architecture_names()),
                   help="For the year workload.")
    p.add_argument("--variant", choices=VARIANTS, default="default", help="For the year workload.")
    p.add_argument("--days", type=float, default=365, help="Year workload: days of target candles.")
    p.add_argument("--epochs", type=int, default=20, help="Year workload: epochs (patience = epochs: all run).")
    p.add_argument("--quick", action="store_true",
                   help="Check the script: phase1 --quick with 1 epoch of tcn:lightweight; year workload of "
                        "30 days, 1 epoch, tcn lightweight.")
    add_output_options(p)
    args = p.parse_args()
    if args.quick:
        args.architectures, args.variant, args.days, args.epochs = ["tcn"], "lightweight", 30, 1
    return args


def data_options(data_file: Path) -> tuple[list[str], str]:
    """CLI options selecting the data, and a label for the output."""
    if data_file.is_file():
        return ["--data-file", str(data_file)], f"file {data_file.name}"
    console.print(f"[yellow]{data_file} is absent: using the SYNTHETIC market instead[/yellow]", highlight=False)
    return ["--data-source", "synthetic"], "SYNTHETIC market (data file absent)"


# --- (a) the Phase-1 benchmark as a user runs it --------------------------------------------------------------

def phase1_workload(args: argparse.Namespace, data: list[str], tmp: Path) -> dict:
    preset = ["--quick", "--epochs", "1", "--models", "tcn:lightweight"] if args.quick else ["--full", "--seeds", "1"]
    cmd = [sys.executable, str(ROOT / "scripts" / "phase1_benchmark.py"), *preset, *data, "--no-db",
           "--device", args.device, "--output-dir", str(tmp / "phase1"), "--models-dir", str(tmp / "phase1-models")]
    console.print(f"[dim]timing:[/dim] {' '.join(cmd[1:])}", highlight=False, soft_wrap=True)
    timed = run_timed(cmd, env=quiet_env(ATB_DATA_DIR=str(tmp / "cache"))).check("the Phase-1 benchmark")
    runs = json.loads((tmp / "phase1" / "phase1_results.json").read_text())["runs"]
    return {
        "command": cmd[1:], "wall_s": timed.wall_s, "max_rss_mb": timed.max_rss_mb,
        "runs": [{"model": f"{r['architecture']} ({r['variant']})", "seed": r["seed"], "status": r["status"],
                  "wall_s": r["wall_s"], "training_time_s": r["metrics"].get("training_time_s"),
                  "epochs_run": r["metrics"].get("epochs_run")} for r in runs],
    }


# --- (b) one year of hourly candles, every epoch ------------------------------------------------------------

def warm_up(tmp: Path) -> float:
    """Import torch and the exporter and export a tiny model once, so that the first architecture timed is
    not charged the process's one-time costs (reported on their own)."""
    t0 = time.perf_counter()
    import torch

    from atb.models.export import export_onnx
    from atb.training import pipeline, trainer  # noqa: F401  (imported for their import cost)

    export_onnx(torch.nn.Linear(3, 1), torch.zeros(2, 3), tmp / "warmup.onnx")
    return time.perf_counter() - t0


def year_workload(args: argparse.Namespace, data: list[str], tmp: Path) -> dict:
    from atb.training.pipeline import TrainRequest, train_model

    warmup_s = warm_up(tmp)
    source = "file" if data[0] == "--data-file" else "synthetic"
    runs = []
    for architecture in args.architectures:
        request = TrainRequest(
            symbol="BTCUSDT", architecture=architecture, variant=args.variant, days=args.days, epochs=args.epochs,
            patience=args.epochs, device=args.device, data_source=source,
            data_file=str(args.data_file) if source == "file" else None, models_dir=tmp / "year-models",
            log_to_db=False,
        )
        t0 = time.perf_counter()
        try:
            meta = train_model(request).metadata
        except AtbError as exc:  # bad data or device: one line, as the CLI would say it
            raise SystemExit(f"{architecture}: {exc}") from None
        wall = time.perf_counter() - t0
        tp, fit_s = meta["training_params"], meta["performance"]["training_time_s"]
        runs.append({"model": f"{architecture} ({args.variant})", "device": tp["device"],
                     "batch_size": tp["batch_size"], "train_windows": meta["data"]["train"]["n"],
                     "epochs_run": tp["epochs_run"], "training_time_s": fit_s, "s_per_epoch": fit_s / tp["epochs_run"],
                     "train_model_wall_s": wall, "outside_fit_s": wall - fit_s})
        console.print(f"  {runs[-1]['model']}: fit {fit_s:.1f} s, train_model {wall:.1f} s", highlight=False)
    return {"days": args.days, "epochs": args.epochs, "patience": args.epochs, "warmup_s": warmup_s, "runs": runs}


def check_device(requested: str) -> None:
    """Fail before the first workload, not after it, when the device cannot be used."""
    from atb.training.device import resolve_device

    try:
        resolve_device(requested)
    except AtbError as exc:
        raise SystemExit(str(exc)) from None


def main() -> None:
    args = parse_args()
    check_device(args.device)
    facts = machine_facts()
    data, label = data_options(args.data_file)
    results: dict = {"data": label}
    with tempfile.TemporaryDirectory(prefix="atb-fit-bench-") as folder:
        tmp = Path(folder)
        if args.workload in ("phase1", "all"):
            results["phase1"] = phase1_workload(args, data, tmp)
        if args.workload in ("year", "all"):
            results["year"] = year_workload(args, data, tmp)

    if "phase1" in results:
        p1 = results["phase1"]
        rows = [[r["model"], r["status"], r["epochs_run"], r["training_time_s"], r["wall_s"]] for r in p1["runs"]]
        rows.append(["whole command (subprocess)", "", "", None, p1["wall_s"]])
        print_table(f"(a) Phase-1 benchmark{' --quick (check only)' if args.quick else ' --full --seeds 1'} · "
                    f"{label} · peak RSS {p1['max_rss_mb']:.0f} MB",
                    ["run", "status", "epochs", "fit s", "wall s"], rows, caption=describe_machine(facts))
    if "year" in results:
        y = results["year"]
        print_table(f"(b) {args.days:g} days x {args.epochs} epochs, patience {args.epochs} · {label} · "
                    f"one-time imports + exporter warm-up {y['warmup_s']:.1f} s (not in the rows)",
                    ["model", "device", "batch", "train windows", "epochs", "fit s", "s/epoch", "train_model s",
                     "outside fit s"],
                    [[r["model"], r["device"], r["batch_size"], r["train_windows"], r["epochs_run"],
                      r["training_time_s"], r["s_per_epoch"], r["train_model_wall_s"], r["outside_fit_s"]]
                     for r in y["runs"]],
                    caption=describe_machine(facts))
    write_results("fit_time", args, results, facts)


if __name__ == "__main__":
    main()
