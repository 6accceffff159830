#!/usr/bin/env python
"""How long the `atb` command takes to answer, whether `atb predict` stays free of torch, and the peak
memory of one training run.

Every figure is a fresh subprocess timed from the fork to the exit (the median of --runs), which is what a
user or a cron job waits for: interpreter start, imports, the command itself. `atb predict` runs against a
tiny TCN trained first (1 epoch, synthetic market) into a temporary registry. The torch check runs the same
predict command in a probe that reports which heavy modules ended up in sys.modules. Peak RSS is the
child's own ru_maxrss (os.wait4) for one 30-day training run.

    python benchmarks/startup.py                  # about 2 minutes on a laptop CPU (most of it the training run)
    python benchmarks/startup.py --quick          # 2 runs each, a 1-epoch training run: checks the script works
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from _common import (
    add_output_options,
    console,
    describe_machine,
    machine_facts,
    median,
    print_table,
    quiet_env,
    run_timed,
    write_results,
)

HEAVY_MODULES = ("torch", "onnx", "onnxscript", "matplotlib", "sqlalchemy", "alembic", "scipy",
                 "ccxt")
# Runs the atb CLI in-process, then reports what it imported on stderr (`python -c PROBE args...`).
PROBE = f"""
import json, sys
from atb.cli.main import run
code = 0
try:
    run()
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)
print("ATB_PROBE " + json.dumps({{"exit_code": code, "loaded": loaded}}), file=sys.stderr)
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=10, help="Runs per command; the median is reported.")
    p.add_argument("--rss-model", default="cnn_lstm", help="Architecture of the peak-RSS training run.")
    p.add_argument("--rss-epochs", type=int, default=20, help="Epochs of the peak-RSS training run (patience 5).")
    p.add_argument("--rss-device", default="cpu", help="Device of the peak-RSS training run.")
    p.add_argument("--no-rss", action="store_true", help="Skip the peak-RSS training run.")
    p.add_argument("--quick", action="store_true", help="Check the script: 2 runs each, a 1-epoch training run.")
    add_output_options(p)
    args = p.parse_args()
    if args.quick:
        args.runs, args.rss_epochs = 2, 1
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def atb_command() -> list[str]:
    """The installed `atb` script next to this interpreter, else the module."""
    script = Path(sys.executable).parent / "atb"
    if script.exists():
        return [str(script)]
    found = shutil.which("atb")
    return [found] if found else [sys.executable, "-m", "atb.cli.main"]


def train_tiny_model(atb: list[str], registry: Path) -> None:
    """A lightweight TCN, 1 epoch on the synthetic market: something for `atb predict` to load."""
    run_timed([*atb, "train", "model", "BTCUSDT", "--data-source", "synthetic", "--model-type", "tcn",
               "--model-variant", "lightweight", "--epochs", "1", "--days", "30", "--device", "cpu", "--no-db",
               "--models-dir", str(registry)], env=quiet_env()).check("training the tiny model for atb predict")


def time_commands(commands: dict[str, list[str]], runs: int) -> list[dict]:
    rows = []
    for label, cmd in commands.items():
        walls = [run_timed(cmd, env=quiet_env()).check(label).wall_s for _ in range(runs)]
        rows.append({"command": label, "runs": runs, "median_s": median(walls), "min_s": min(walls),
                     "max_s": max(walls)})
        console.print(f"  {label}: {median(walls):.3f} s", highlight=False)
    return rows


def predict_imports(predict_args: list[str]) -> dict:
    """Which heavy modules `atb predict` imports (torch must not be one of them)."""
    timed = run_timed([sys.executable, "-c", PROBE, *predict_args], env=quiet_env())
    line = next((x for x in timed.stderr.splitlines() if x.startswith("ATB_PROBE ")), None)
    if line is None:
        raise SystemExit(f"the import probe printed no report:\n{timed.stderr[-2000:]}")
    report = json.loads(line.removeprefix("ATB_PROBE "))
    if report["exit_code"] not in (0, None):
        raise SystemExit(f"atb predict failed in the import probe (exit {report['exit_code']}):\n"
                         f"{timed.stderr[-2000:]}")
    report["torch_imported"] = "torch" in report["loaded"]
    return report


def peak_rss(atb: list[str], args: argparse.Namespace, registry: Path) -> dict:
    """One `atb train model` run of 30 synthetic days: the child's peak RSS and wall time."""
    cmd = [*atb, "train", "model", "BTCUSDT", "--data-source", "synthetic", "--days", "30", "--model-type",
           args.rss_model, "--epochs", str(args.rss_epochs), "--device", args.rss_device, "--no-db",
           "--models-dir", str(registry), "--json"]
    timed = run_timed(cmd, env=quiet_env()).check("the peak-RSS training run")
    try:  # the run's own record of its peak, from the metadata printed by --json
        meta = json.loads(timed.stdout)
        own = meta["performance"]["peak_rss_mb"]
        epochs_run = meta["training_params"]["epochs_run"]
    except (ValueError, KeyError):
        own, epochs_run = None, None
    return {"command": " ".join(cmd[1:]), "max_rss_mb": timed.max_rss_mb, "metadata_peak_rss_mb": own,
            "wall_s": timed.wall_s, "epochs_run": epochs_run}


def main() -> None:
    args = parse_args()
    facts = machine_facts(probe_cuda=False)  # keep torch out of this process: it only launches commands
    atb = atb_command()
    with tempfile.TemporaryDirectory(prefix="atb-startup-bench-") as folder:
        tmp = Path(folder)
        empty, registry = tmp / "empty-registry", tmp / "registry"
        empty.mkdir()
        console.print("[dim]training a tiny TCN for atb predict...[/dim]")
        train_tiny_model(atb, registry)
        predict_args = ["predict", "BTCUSDT", "--data-source", "synthetic", "--models-dir", str(registry)]
        commands = {
            "python -c pass (interpreter alone)": [sys.executable, "-c", "pass"],
            "atb --help": [*atb, "--help"],
            "atb --version": [*atb, "--version"],
            "atb models list (empty registry)": [*atb, "models", "list", "--models-dir", str(empty)],
            "atb predict (tcn lightweight, synthetic)": [*atb, *predict_args],
        }
        timings = time_commands(commands, args.runs)
        imports = predict_imports(predict_args)
        rss = None if args.no_rss else peak_rss(atb, args, tmp / "rss-registry")

    print_table(f"atb start-up · fresh process each run · median of {args.runs}",
                ["command", "median s", "min s", "max s"],
                [[r["command"], r["median_s"], r["min_s"], r["max_s"]] for r in timings],
                caption=describe_machine(facts))
    verdict = "[red]imports torch[/red]" if imports["torch_imported"] else "[green]does not import torch[/green]"
    console.print(f"atb predict {verdict}; heavy modules loaded: {', '.join(imports['loaded']) or 'none'}")
    if rss:
        console.print(f"peak RSS of one 30-day training run ({args.rss_model}, {rss['epochs_run']} epochs run, "
                      f"{args.rss_device}): {rss['max_rss_mb']:.0f} MB (wait4); the run's metadata says "
                      f"{rss['metadata_peak_rss_mb'] or float('nan'):.0f} MB; wall {rss['wall_s']:.1f} s",
                      highlight=False)
    write_results("startup", args, {"commands": timings, "predict_imports": imports, "training_peak_rss": rss}, facts)
    if imports["torch_imported"]:
        raise SystemExit(1)  # a regression worth a failing exit code


if __name__ == "__main__":
    main()
