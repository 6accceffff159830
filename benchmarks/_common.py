"""Shared helpers of the speed benchmarks: machine facts, a rich table, the JSON results file, timed subprocesses.

Every script writes ``benchmarks/results/<name>.json`` holding the options it ran with, the machine it ran
on (CPU model, cores, RAM, load average, library versions, CUDA device, git revision) and its figures, so
that a number can always be traced back to where and how it was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]  # the repository root
RESULTS_DIR = ROOT / "benchmarks" / "results"
DEFAULT_DATA_FILE = ROOT.parent / "shared" / "data" / "BTCUSDT_1h_2017-08_2022-12.csv"

console = Console()
if not console.is_terminal:
    console = Console(width=200)  # into a log file: as wide as the table needs, not 80 columns


# --- machine facts -----------------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)  # the value is in kB
    except OSError:
        pass
    return None


def usable_cores() -> int:
    """Cores this process may run on (a container or taskset can allow fewer than the machine has)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cuda_device() -> dict | None:
    """The first CUDA device, or None. Imports torch, so callers that must stay torch-free pass probe_cuda=False."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return {"name": props.name, "count": torch.cuda.device_count(), "cuda": torch.version.cuda,
            "memory_gib": round(props.total_memory / 2**30, 1), "capability": f"{props.major}.{props.minor}"}


def git_revision() -> str | None:
    """HEAD's commit, with '+dirty' when the working tree has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def machine_facts(probe_cuda: bool = True) -> dict:
    # Versions come from package metadata, so reading them imports nothing.
    facts = {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "ram_gib": ram_gib(),
        "load_average_1m": round(os.getloadavg()[0], 2),  # a busy machine makes every figure slower
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": package_version("torch"),
        "onnxruntime": package_version("onnxruntime"),
        "atb": package_version("atb"),
        "cuda_device": cuda_device() if probe_cuda else None,
        "git": git_revision(),
    }
    warn_if_busy(facts)
    return facts


def warn_if_busy(facts: dict) -> None:
    """Say so when other work shares the CPU: with every core asked for, torch's threads then wait on each
    other and a step can take many times longer, so such figures are not the machine's."""
    if facts["load_average_1m"] > 0.5 * facts["usable_cores"]:
        console.print(f"[yellow]warning: load average {facts['load_average_1m']} on {facts['usable_cores']} cores "
                      "before starting: other work shares this machine, the figures will be noisy and slow[/yellow]",
                      highlight=False)


def describe_machine(facts: dict) -> str:
    gpu = facts.get("cuda_device")
    line = (f"{facts['cpu_model']} · {facts['usable_cores']} cores · {facts['ram_gib']} GiB RAM · "
            f"load {facts['load_average_1m']} · python {facts['python']} · torch {facts['torch']} · "
            f"onnxruntime {facts['onnxruntime']}")
    return line + (f" · GPU {gpu['name']} (CUDA {gpu['cuda']})" if gpu else "")


# --- options, tables and results -----------------------------------------------------------------------------

def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                        help=f"Where the JSON results go (default {RESULTS_DIR.relative_to(ROOT)}).")
    parser.add_argument("--no-save", action="store_true", help="Print the table only; write no JSON.")


def print_table(title: str, columns: list[str], rows: list[list], caption: str | None = None) -> None:
    """A right-aligned table of figures; the first column (the label) is left-aligned."""
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(cell if isinstance(cell, str) else fmt(cell) for cell in row))
    console.print(table)


def fmt(value: float | int | None, digits: int = 3) -> str:
    """Figures with `digits` significant digits, thousands separated; '-' for a missing one."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def write_results(name: str, args: argparse.Namespace, results: object, facts: dict) -> Path | None:
    """benchmarks/results/<name>.json: the options, the machine and the figures."""
    if args.no_save:
        return None
    payload = {
        "benchmark": name,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": facts,
        "results": results,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"[dim]results:[/dim] {path}", highlight=False)
    return path


# --- timing ------------------------------------------------------------------------------------------------

@dataclass
class Timed:
    """One finished subprocess: its wall time, exit code, peak resident memory and output."""

    wall_s: float
    returncode: int
    max_rss_mb: float
    stdout: str
    stderr: str

    def check(self, what: str) -> Timed:
        if self.returncode != 0:
            tail = "\n".join((self.stderr or self.stdout).strip().splitlines()[-15:])
            raise SystemExit(f"{what} failed with exit code {self.returncode}:\n{tail}")
        return self


def run_timed(cmd: list[str], *, env: dict | None = None, cwd: Path = ROOT) -> Timed:
    """Run a command to completion; wall time from just before the fork to the reaped exit.

    os.wait4 gives the rusage of this one child (its own peak RSS), which RUSAGE_CHILDREN cannot: that is
    a maximum over every child the benchmark has waited for. Output goes to temporary files, not pipes,
    because nothing reads a pipe while wait4 blocks.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # tell Popen the child is reaped
        out.seek(0)
        err.seek(0)
        return Timed(wall, proc.returncode, usage.ru_maxrss / 1024, out.read(), err.read())  # ru_maxrss: kB


def quiet_env(**extra: str) -> dict:
    """The environment for a measured `atb` subprocess: no run-log database, no colours, no pager."""
    env = dict(os.environ)
    env.update({"ATB_DB": "off", "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "160"})
    env.update(extra)
    return env


def median(values: list[float]) -> float:
    return statistics.median(values)
