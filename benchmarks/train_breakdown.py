#!/usr/bin/env python
"""Where a training run's wall time goes: imports, data, features, fit, evaluation, export, parity, latency,
publish, and the rest (interpreter start, the CLI).

Per architecture, two fresh processes on the same workload (`--days 30 --epochs 10` on the BTCUSDT 1h file by
default, run log off, a temporary registry):
(a) the real command, `atb train model SYMBOL --model-type A ...`, timed from the fork to the exit (the wall
    time a user waits), and
(b) the same run in-process: the heavy imports timed first, then `train_model` with a reporter that stamps the
    time of every stage the pipeline announces. The stages are the pipeline's own (`Reporter.stage`), so the
    breakdown cannot drift from what the pipeline does.
"rest" = (a) - (b): interpreter start, the CLI's own imports and argument parsing, and the summary it prints.

    python benchmarks/train_breakdown.py                       # 3 architectures, 30 days x 10 epochs
    python benchmarks/train_breakdown.py --quick               # 7 days x 2 epochs: checks the script works
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

# Pipeline stage messages (their first words) -> the breakdown's columns, in pipeline order.
STAGES = (("Loading", "data"), ("Building", "features"), ("fit", "fit"), ("Evaluating", "evaluation"),
          ("Saving", "export"), ("Checking", "parity"), ("Measuring", "latency"), ("Publishing", "publish"))
COLUMNS = ["imports", *[name for _, name in STAGES], "rest"]


def parse_args() -> argparse.Namespace:
    from atb.models.registry import names

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--architectures", nargs="+", choices=names(), default=list(names()))
    p.add_argument("--data-file", type=Path, default=DEFAULT_DATA_FILE,
                   help="Candle file (default ../shared/data/BTCUSDT_1h_2017-08_2022-12.csv); the synthetic "
                        "market when it is absent.")
    p.add_argument("--days", type=float, default=30)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=1, help="Runs per architecture; the table shows the median.")
    p.add_argument("--threads", type=int, default=None, help="--threads for training (default: atb's default).")
    p.add_argument("--quick", action="store_true", help="7 days, 2 epochs: checks the script works.")
    p.add_argument("--child", help=argparse.SUPPRESS)  # internal: run (b) for this architecture, print JSON
    add_output_options(p)
    args = p.parse_args()
    if args.quick:
        args.days, args.epochs = 7, 2
    return args


def data_args(args: argparse.Namespace) -> list[str]:
    if args.data_file.is_file():
        return ["--data-file", str(args.data_file)]
    return ["--data-source", "synthetic"]


def child(args: argparse.Namespace) -> None:
    """(b): timed imports, then the pipeline with a stage-stamping reporter; prints one JSON line."""
    t0 = time.perf_counter()
    import onnx  # noqa: F401  - what a run imports, timed as one block
    import onnxruntime  # noqa: F401
    import torch  # noqa: F401

    import atb.evaluation.metrics  # noqa: F401
    import atb.models.export  # noqa: F401
    from atb.training.pipeline import train_model
    from atb.training.request import TrainRequest

    marks: list[tuple[str, float]] = [("imports", t0)]

    class Stamp:
        def stage(self, message: str) -> None:
            marks.append((message.split()[0], time.perf_counter()))

        def download(self, done: int, total: int) -> None:
            pass

        def fit_started(self, *_) -> None:
            marks.append(("fit", time.perf_counter()))

        def epoch(self, stats) -> None:
            pass

        def fit_finished(self) -> None:
            pass

    with tempfile.TemporaryDirectory() as models:
        source = {"data_source": "file", "data_file": str(args.data_file)} if args.data_file.is_file() else {
            "data_source": "synthetic"}
        outcome = train_model(TrainRequest(symbol="BTCUSDT", architecture=args.child, days=args.days,
                                           epochs=args.epochs, threads=args.threads, models_dir=Path(models),
                                           log_to_db=False, **source), Stamp())
    end = time.perf_counter()
    names = dict(STAGES) | {"imports": "imports"}
    times = {names.get(label, label): (marks[i + 1][1] if i + 1 < len(marks) else end) - at
             for i, (label, at) in enumerate(marks) if label in names}
    times["fit_reported"] = outcome.metadata.performance.training_time_s
    print(json.dumps(times))


def measure(args: argparse.Namespace, arch: str) -> dict:
    with tempfile.TemporaryDirectory() as models:
        cmd = [sys.executable, "-m", "atb.cli.main", "train", "model", "BTCUSDT", "--model-type", arch,
               "--days", f"{args.days:g}", "--epochs", str(args.epochs), "--no-db", "--models-dir", models,
               "--json", *data_args(args), *(["--threads", str(args.threads)] if args.threads else [])]
        whole = run_timed(cmd, env=quiet_env()).check(f"atb train model --model-type {arch}")
    whole_fit = json.loads(whole.stdout)["performance"]["training_time_s"]
    inner_cmd = [sys.executable, str(Path(__file__)), "--child", arch, "--days", f"{args.days:g}", "--epochs",
                 str(args.epochs), "--data-file", str(args.data_file), "--no-save",
                 *(["--threads", str(args.threads)] if args.threads else [])]
    inner = run_timed(inner_cmd, env=quiet_env(), cwd=ROOT / "benchmarks").check(f"breakdown of {arch}")
    stages = json.loads(inner.stdout.strip().splitlines()[-1])
    # The fit is the command's own (its metadata); the other stages come from the stamped run. Both runs do the
    # same work, so "rest" is what the command does besides: interpreter, CLI imports, printing.
    stages["fit"] = whole_fit
    in_process = sum(v for k, v in stages.items() if k != "fit_reported")
    return {"wall_s": whole.wall_s, **stages, "rest": max(0.0, whole.wall_s - in_process)}


def main() -> None:
    args = parse_args()
    if args.child:
        child(args)
        return
    facts = machine_facts(probe_cuda=False)
    console.print(describe_machine(facts), highlight=False)
    results = {}
    for arch in args.architectures:
        runs = [measure(args, arch) for _ in range(args.repeats)]
        results[arch] = {key: sorted(r.get(key, 0.0) for r in runs)[len(runs) // 2] for key in runs[0]}
        results[arch]["runs"] = runs
    rows = []
    for arch, r in results.items():
        overhead = r["wall_s"] - r["fit"]
        rows.append([arch, r["wall_s"], *[r.get(c, 0.0) for c in COLUMNS], overhead])
    print_table(f"Where `atb train model` spends its time: {args.days:g} days x {args.epochs} epochs (seconds, "
                f"median of {args.repeats})", ["architecture", "wall", *COLUMNS, "wall - fit"], rows,
                caption="fit: the training loop alone (what metadata records as training_time_s); rest: "
                        "interpreter start, CLI imports and parsing, printing the summary.")
    write_results("train_breakdown", args, results, facts)


if __name__ == "__main__":
    main()
