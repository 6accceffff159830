#!/usr/bin/env python
"""Training throughput side by side with a peer: atb's models vs Darts' TCNModel and BlockRNNModel (LSTM).

The workload (issue 13): the last 365 days of BTCUSDT 1h, windows of 60 candles, batch 32, 20 epochs, no
early stopping, 2 torch threads on both sides. Figure: training windows/s = training windows x epochs /
fit time. Each fit runs in a subprocess of its own (the two frameworks never share a process), atb and
Darts alternating so that load from other work hits both; the ratio is taken per round, then the median
over rounds.

Same data on both sides: atb's training and validation windows; Darts gets the rows they span, as a
target series (the scaled 1-bar log return, whose next value is atb's target) plus 16 past covariates (atb's
other features): 17 input channels on both sides, and Darts counts as many training (and validation)
samples as atb has windows (input_chunk_length=60, output_chunk_length=1). Both fits include a validation
pass per epoch over the same number of windows (atb: its fit's own; Darts: val_series); --no-validation
leaves it out on the Darts side (atb's fit always validates).

    python benchmarks/peer_throughput.py --setup          # creates benchmarks/.darts-venv (torch + Darts)
    python benchmarks/peer_throughput.py                  # 3 rounds, 3 pairs: about 20 min on 2 cores
    python benchmarks/peer_throughput.py --quick          # 1 round, 1 epoch, 30 days: checks it works
    python benchmarks/peer_throughput.py --darts-python /path/to/venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import (
    DEFAULT_DATA_FILE,
    ROOT,
    add_output_options,
    console,
    describe_machine,
    machine_facts,
    median,
    print_table,
    quiet_env,
    write_results,
)

HERE = Path(__file__).resolve().parent
DARTS_VENV = HERE / ".darts-venv"
DARTS_PINS = ("torch==2.13.0", "darts[torch]==0.48.1")
# atb architecture -> the Darts model it is measured against
PAIRS = {"tcn": "tcn", "attention_lstm": "lstm", "cnn_lstm": "lstm"}
DARTS_NAMES = {"tcn": "TCNModel (48 filters, kernel 3, dilation base 2)", "lstm": "BlockRNNModel (LSTM 64 x 2)"}
SEQUENCE_LENGTH = 60


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--setup", action="store_true",
                   help=f"Create {DARTS_VENV.relative_to(ROOT)} with {' and '.join(DARTS_PINS)}, then exit.")
    p.add_argument("--darts-python", type=Path, default=DARTS_VENV / "bin" / "python",
                   help="Python of an environment with Darts 0.48.1 and torch 2.13.0 (default: the --setup one).")
    p.add_argument("--data-file", type=Path, default=DEFAULT_DATA_FILE)
    p.add_argument("--architectures", nargs="+", choices=list(PAIRS), default=list(PAIRS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--days", type=float, default=365)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--no-validation", action="store_true", help="Darts fits without a validation series.")
    p.add_argument("--max-busy", type=float, default=0.3,
                   help="Other processes may keep at most this many cores busy (from /proc/stat, less the fit's "
                        "own CPU time): before a fit the script waits for that, and a fit during which more "
                        "were busy is measured again. Default 0.3.")
    p.add_argument("--max-wait", type=float, default=900, help="Seconds to wait for a quiet machine per fit.")
    p.add_argument("--retries", type=int, default=3, help="Times a fit disturbed by other work is measured again.")
    p.add_argument("--quick", action="store_true", help="Check the script: 1 round, 30 days, 1 epoch.")
    add_output_options(p)
    args = p.parse_args()
    if args.quick:
        args.rounds, args.days, args.epochs = 1, 30, 1
    if args.rounds < 1 or args.epochs < 1:
        p.error("--rounds and --epochs must be at least 1")
    return args


# --- the Darts environment ---------------------------------------------------------------------------------

def setup_darts_venv() -> None:
    """torch first, then Darts with torch pinned, so that pip cannot swap torch for another version."""
    python = DARTS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DARTS_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, DARTS_PINS[0]], check=True)
    subprocess.run([*pip, DARTS_PINS[1], DARTS_PINS[0]], check=True)
    subprocess.run([str(python), "-c", "import darts, torch; print('darts', darts.__version__, 'torch', "
                    "torch.__version__)"], check=True)


def darts_versions(python: Path) -> dict:
    out = subprocess.run([str(python), "-c", "import json, darts, torch, pytorch_lightning as pl; print(json.dumps("
                          "{'darts': darts.__version__, 'torch': torch.__version__, 'pytorch_lightning': "
                          "pl.__version__}))"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{python} cannot import darts and torch; run with --setup first, or pass "
                         f"--darts-python.\n{out.stderr.strip()[-800:]}")
    return json.loads(out.stdout)


# --- the data both sides train on ----------------------------------------------------------------------------

def write_darts_arrays(args: argparse.Namespace, path: Path) -> dict:
    """The rows atb's training and validation windows span, as Darts target and past-covariate arrays."""
    from atb.training.pipeline import TrainRequest, prepare_data

    req = TrainRequest(symbol="BTCUSDT", days=args.days, sequence_length=SEQUENCE_LENGTH, data_source="file",
                       data_file=str(args.data_file), log_to_db=False)
    _, dataset = prepare_data(req)
    target_col = dataset.feature_names.index("log_return_1")  # its value at row t+1 is atb's target at anchor t
    others = [i for i in range(len(dataset.feature_names)) if i != target_col]
    arrays, info = {}, {}
    for split, prefix in (("train", "train"), ("validation", "val")):
        anchors = dataset.anchors[split]
        first, n = int(anchors[0]), len(anchors)
        # n samples of 60 input rows and 1 output row: rows first-59 .. first+n, n+60 rows in all.
        rows = dataset.features[first - SEQUENCE_LENGTH + 1: first + n + 1]
        arrays[f"{prefix}_target"] = rows[:, [target_col]]
        arrays[f"{prefix}_cov"] = rows[:, others]
        info[split] = {"windows": n, "darts_rows": len(rows),
                       "contiguous": bool((np.diff(anchors) == 1).all())}  # gaps: atb skips windows across them
    np.savez(path, **arrays)
    info["features"] = len(dataset.feature_names)
    return info


# --- measurements ------------------------------------------------------------------------------------------

def cpu_jiffies() -> tuple[int, int]:
    """(all, idle) CPU time of the machine so far, in clock ticks, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]), fields[3] + fields[4]  # user..steal; idle + iowait


def others_busy(before: tuple[int, int], after: tuple[int, int], own_cpu_s: float, wall_s: float) -> float:
    """Cores kept busy by other processes between two readings: all busy time less our own CPU seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    busy_s = ((after[0] - before[0]) - (after[1] - before[1])) / ticks
    return max(0.0, (busy_s - own_cpu_s) / wall_s) if wall_s > 0 else 0.0


def wait_for_quiet(args: argparse.Namespace) -> float:
    """Seconds waited until other work keeps at most --max-busy cores busy (2 s samples), or --max-wait passed."""
    start = time.monotonic()
    while True:
        before = cpu_jiffies()
        time.sleep(2)
        busy = others_busy(before, cpu_jiffies(), 0.0, 2.0)
        waited = time.monotonic() - start
        if busy <= args.max_busy or waited >= args.max_wait:
            if busy > args.max_busy:
                console.print(f"[yellow]  still {busy:.2f} cores busy after {waited:.0f} s: measuring anyway"
                              "[/yellow]", highlight=False)
            return waited
        console.print(f"[dim]  other work keeps {busy:.2f} cores busy: waiting[/dim]", highlight=False)
        time.sleep(15)


def run_json(cmd: list[str], env: dict, what: str) -> tuple[dict, float, float]:
    """The child's last stdout line as JSON, the cores other processes kept busy meanwhile, and the wall time."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        before, t0 = cpu_jiffies(), time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this one child: its own CPU time
        wall, after = time.perf_counter() - t0, cpu_jiffies()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed ({proc.returncode}):\n{(stderr or stdout).strip()[-1500:]}")
    return json.loads(stdout.strip().splitlines()[-1]), others_busy(before, after, usage.ru_utime + usage.ru_stime,
                                                                       wall), wall


def measure(side: str, name: str, args: argparse.Namespace, npz: Path) -> dict:
    """One fit in a subprocess; repeated (up to --retries times) when other work shared the cores meanwhile."""
    common = ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--threads", str(args.threads),
              "--seed", str(args.seed)]
    if side == "atb":
        cmd = [sys.executable, str(HERE / "_atb_fit.py"), "--architecture", name, "--data-file", str(args.data_file),
               "--days", str(args.days), "--sequence-length", str(SEQUENCE_LENGTH), *common]
    else:
        cmd = [str(args.darts_python), str(HERE / "_darts_fit.py"), str(npz), "--model", name, *common]
        cmd += ["--no-validation"] if args.no_validation else []
    # One thread count for every library torch may use; the rest of the environment as it is.
    env = quiet_env(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    discarded = []
    for attempt in range(args.retries + 1):
        waited = wait_for_quiet(args)
        load = os.getloadavg()
        row, busy, wall = run_json(cmd, env, f"{side} {name}")
        row.update(side=side, name=name, windows_per_s=row["train_windows"] * row["epochs"] / row["fit_s"],
                   load_before=[round(v, 2) for v in load], others_busy_cores=round(busy, 2), waited_s=round(waited),
                   process_wall_s=wall)
        note = f"load {load[0]:.2f}, others busy {busy:.2f} cores"
        if busy <= args.max_busy or attempt == args.retries:
            break
        discarded.append({"windows_per_s": row["windows_per_s"], "others_busy_cores": row["others_busy_cores"]})
        console.print(f"[yellow]  {side} {name}: other work kept {busy:.2f} cores busy during the fit "
                      f"({row['windows_per_s']:,.0f} windows/s): discarded, measuring again[/yellow]", highlight=False)
    row["discarded"] = discarded
    console.print(f"  {side:5} {name:15} {row['windows_per_s']:8,.0f} windows/s  (fit {row['fit_s']:.1f} s, "
                  f"{row['parameters']:,} params, {note})", highlight=False)
    return row


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def main() -> None:
    args = parse_args()
    if args.setup:
        setup_darts_venv()
        return
    if not args.data_file.is_file():
        raise SystemExit(f"{args.data_file} is absent: this benchmark needs the BTCUSDT 1h candle file")
    facts = machine_facts(probe_cuda=False)
    facts["darts_env"] = darts_versions(args.darts_python)
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="atb-peer-") as folder:
        npz = Path(folder) / "darts_data.npz"
        data = write_darts_arrays(args, npz)
        console.print(f"training windows {data['train']['windows']:,} · validation {data['validation']['windows']:,} "
                      f"· {args.epochs} epochs · batch {args.batch_size} · {args.threads} threads", highlight=False)
        for r in range(1, args.rounds + 1):
            console.print(f"[bold]round {r}[/bold]", highlight=False)
            pairs = {}
            for arch in args.architectures:  # atb, Darts, atb, Darts, ...
                atb = measure("atb", arch, args, npz)
                darts = measure("darts", PAIRS[arch], args, npz)
                if atb["train_windows"] != darts["train_windows"]:
                    raise SystemExit(f"{arch}: atb trains on {atb['train_windows']} windows, Darts on "
                                     f"{darts['train_windows']} samples: not the same workload")
                floor = atb.get("forward_backward_windows_per_s")
                pairs[arch] = {"atb": atb, "darts": darts, "ratio": atb["windows_per_s"] / darts["windows_per_s"],
                               "ceiling": floor / darts["windows_per_s"] if floor else None}
            rounds.append(pairs)
    facts["load_average_after"] = [round(v, 2) for v in os.getloadavg()]

    summary, rows = {}, []
    for arch in args.architectures:
        per = [rd[arch] for rd in rounds]
        s = {"darts_model": DARTS_NAMES[PAIRS[arch]],
             "atb_parameters": per[0]["atb"]["parameters"], "darts_parameters": per[0]["darts"]["parameters"],
             "atb_windows_per_s": [p["atb"]["windows_per_s"] for p in per],
             "darts_windows_per_s": [p["darts"]["windows_per_s"] for p in per],
             "ratio": [p["ratio"] for p in per],
             "atb_forward_backward_windows_per_s": [p["atb"].get("forward_backward_windows_per_s") for p in per],
             "ceiling": [p["ceiling"] for p in per]}
        s.update({f"median_{k}": median(s[k]) for k in ("atb_windows_per_s", "darts_windows_per_s", "ratio")})
        s["median_ceiling"] = median(s["ceiling"]) if None not in s["ceiling"] else None
        summary[arch] = s
        for i, p in enumerate(per, 1):
            rows.append([f"{arch} vs {PAIRS[arch]}", f"round {i}", round(p["atb"]["windows_per_s"]),
                         round(p["darts"]["windows_per_s"]), f"{p['ratio']:.2f}x", _x(p["ceiling"]),
                         p["atb"]["load_before"][0], p["darts"]["load_before"][0],
                         f"{p['atb']['others_busy_cores']:.2f} / {p['darts']['others_busy_cores']:.2f}"])
        rows.append([f"{arch} vs {PAIRS[arch]}", "[bold]median[/bold]", round(s["median_atb_windows_per_s"]),
                     round(s["median_darts_windows_per_s"]), f"[bold]{s['median_ratio']:.2f}x[/bold]",
                     _x(s["median_ceiling"]), "", "", ""])
    print_table(
        f"Training windows/s, atb vs Darts {facts['darts_env']['darts']} · {data['train']['windows']:,} windows x "
        f"{args.epochs} epochs · batch {args.batch_size} · {args.threads} threads · validation "
        f"{'atb only' if args.no_validation else 'both'}",
        ["pair", "round", "atb windows/s", "darts windows/s", "ratio", "ceiling", "load (atb)", "load (darts)",
         "others busy (atb / darts)"], rows,
        caption=describe_machine(facts) + " · ceiling: atb's forward + backward alone vs Darts' whole fit · "
        "params: " + ", ".join(
            f"{a} {s['atb_parameters']:,} vs {s['darts_parameters']:,}" for a, s in summary.items()))
    write_results("peer_throughput", args, {"data": data, "summary": summary, "rounds": rounds}, facts)


if __name__ == "__main__":
    main()
