#!/usr/bin/env python
"""`atb serve` under load on loopback: start-up time, one client in a loop, an open-loop load over many
connections, the highest rate that keeps p99 under 100 ms, what `--shadow` adds, and a promotion in the middle
of a load (no request may fail, the promoted version must answer after it).

Every request carries 400 candles (the newest of ../shared/data's BTCUSDT 1h file, or the synthetic market) to
POST /v1/predict/BTCUSDT. The client speaks HTTP/1.1 over raw keep-alive sockets (asyncio), so that it costs
little of the CPU it shares with the server. Open-loop: request i is due at t0 + i / rate whatever the answers
do, and its latency runs from when it was due (a server that falls behind is charged for the queue, no
coordinated omission). Everything is bounded in count and time.

    python benchmarks/serve_latency.py                 # trains two small models first (~1 min), then ~2 minutes
    python benchmarks/serve_latency.py --models-dir src/ml/models --champion V1 --challenger V2
    python benchmarks/serve_latency.py --quick         # fewer requests: checks the script works
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DEFAULT_DATA_FILE,
    ROOT,
    add_output_options,
    console,
    describe_machine,
    machine_facts,
    print_table,
    quiet_env,
    write_results,
)

SYMBOL = "BTCUSDT"
P99_LIMIT_S = 0.100  # the load the server "takes": p99 under this


# --- the server --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def atb(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "atb.cli.main", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True)


class Server:
    """`atb serve` in a subprocess; ``started_s``: from the fork to the first ready /health."""

    def __init__(self, models_dir: Path, env: dict, *extra: str, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "atb.cli.main", "serve", "--port", str(self.port), "--models-dir",
               str(models_dir), "--symbols", SYMBOL, "--workers", str(workers), *extra]
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        deadline = t0 + 60
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"atb serve exited with {self.proc.returncode}: {self.proc.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as answer:
                    if json.load(answer)["ready"]:
                        break
            except OSError:
                time.sleep(0.005)
        else:
            self.stop()
            raise SystemExit("atb serve did not become ready within 60 s")
        self.started_s = time.perf_counter() - t0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --- the client ----------------------------------------------------------------------------------------------

def request_bytes(body: bytes, port: int, client: str | None = None) -> bytes:
    head = (f"POST /v1/predict/{SYMBOL} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n" + (f"X-Client-Id: {client}\r\n" if client else "") + "\r\n")
    return head.encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length"))
    return status, await reader.readexactly(length)


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self, payload: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            self.writer.write(payload)
            return await read_answer(self.reader)
        except (OSError, asyncio.IncompleteReadError):
            self.writer = None  # reconnect next time
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def percentiles(latencies: list[float]) -> dict:
    ms = np.asarray(latencies) * 1000
    if len(ms) == 0:
        return {"n": 0}
    return {"n": int(len(ms)), "p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())}


async def single_client(port: int, body: bytes, requests: int, warmup: int) -> dict:
    conn = Connection(port)
    payload = request_bytes(body, port)
    latencies, errors = [], 0
    for i in range(warmup + requests):
        t = time.perf_counter()
        status, _ = await conn.call(payload)
        if i >= warmup:
            latencies.append(time.perf_counter() - t)
            errors += status != 200
    conn.close()
    return {**percentiles(latencies), "errors": errors}


async def open_loop(port: int, body: bytes, rate: float, seconds: float, connections: int,
                    clients: int = 0, during=None) -> dict:
    """Requests due every 1/rate s for ``seconds`` over ``connections`` keep-alive connections. ``clients``: that
    many distinct X-Client-Id values (split routing); ``during``: a coroutine run meanwhile (a promotion)."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    conns = [Connection(port) for _ in range(connections)]
    for conn in conns:
        pool.put_nowait(conn)
    payloads = [request_bytes(body, port, f"client-{i}") for i in range(clients)] or [request_bytes(body, port)]
    total = int(rate * seconds)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    versions: list[tuple[float, str]] = []
    failures = 0

    async def one(i: int, due: float) -> None:
        nonlocal failures
        conn = await pool.get()
        try:
            status, answer = await conn.call(payloads[i % len(payloads)])
            done = time.perf_counter()
            latencies.append(done - due)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                versions.append((done, json.loads(answer)["version"]))
        except Exception:
            failures += 1
        finally:
            pool.put_nowait(conn)

    t0 = time.perf_counter() + 0.05
    tasks = []
    side = asyncio.ensure_future(during(t0)) if during else None
    for i in range(total):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, due)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 30)
    if side:
        await side
    for conn in conns:
        conn.close()
    errors = failures + sum(n for status, n in statuses.items() if status != 200)
    return {**percentiles(latencies), "offered_rate": rate, "achieved_rate": len(latencies) / seconds,
            "errors": errors, "statuses": {str(k): v for k, v in statuses.items()}, "versions": versions}


# --- set-up ----------------------------------------------------------------------------------------------------

def candles_body(data_file: Path | None, count: int) -> bytes:
    import pandas as pd

    if data_file is not None and data_file.is_file():
        frame = pd.read_csv(data_file).tail(count)
    else:
        from atb.data.synthetic import synthetic_candles

        frame = synthetic_candles(count, symbol=SYMBOL)
        frame["open_time"] = frame["open_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"candles": frame.to_dict(orient="records")}).encode()


def train_models(root: Path, data_file: Path | None, env: dict) -> tuple[str, str]:
    """Two versions to serve: a TCN (champion) and a CNN-LSTM (challenger), one epoch each."""
    source = ["--data-file", str(data_file)] if data_file and data_file.is_file() else ["--data-source", "synthetic"]
    names = []
    for arch in ("tcn", "cnn_lstm"):
        done = atb("train", "model", "BTCUSDT", "-m", arch, "--days", "30", "--epochs", "1", *source, "--models-dir",
                   str(root), "--no-db", "--json", env=env)
        if done.returncode != 0:
            raise SystemExit(f"training {arch} failed: {done.stderr[-2000:]}")
        names.append(json.loads(done.stdout)["version_id"])
    return names[0], names[1]


def promotion(models_dir: Path, env: dict, version: str, at_s: float):
    async def run(t0: float) -> None:
        await asyncio.sleep(max(0.0, t0 + at_s - time.perf_counter()))
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "atb.cli.main", "ab", "promote", SYMBOL,
                                                    version, "--models-dir", str(models_dir), env=env, cwd=ROOT,
                                                    stdout=asyncio.subprocess.DEVNULL)
        await proc.wait()
        run.promoted_at = time.perf_counter()

    run.promoted_at = None
    return run


# --- main -------------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, help="A registry holding BTCUSDT models (default: train two).")
    parser.add_argument("--champion", help="Version to serve (default: the first trained).")
    parser.add_argument("--challenger", help="Version for --shadow and the promotion (default: the second).")
    parser.add_argument("--data-file", type=Path, default=DEFAULT_DATA_FILE, help="Candles for the request body.")
    parser.add_argument("--candles", type=int, default=400, help="Candles per request.")
    parser.add_argument("--single", type=int, default=2000, help="Requests of the single client.")
    parser.add_argument("--rate", type=float, default=300, help="Open-loop rate (requests/s).")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10, help="Length of the open-loop run.")
    parser.add_argument("--rates", default="300,450,600,750,900,1100,1300", help="Rates tried for the highest "
                                                                                 "with p99 < 100 ms.")
    parser.add_argument("--step-seconds", type=float, default=5)
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to compare.")
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--shadow-rounds", type=int, default=3, help="Alternating runs with and without --shadow.")
    parser.add_argument("--quick", action="store_true", help="Few requests and short runs.")
    add_output_options(parser)
    args = parser.parse_args()
    if args.quick:
        args.single, args.seconds, args.step_seconds, args.startup_runs, args.shadow_rounds = 300, 3, 2, 1, 1
        args.rates, args.workers = "300,600", "1"
    facts = machine_facts(probe_cuda=False)
    console.print(describe_machine(facts), highlight=False)
    scratch = Path(tempfile.mkdtemp(prefix="atb-serve-bench-"))
    env = quiet_env(ATB_DATA_DIR=str(scratch / "data"), PYTHONPATH=str(ROOT / "src"))
    env.pop("ATB_DB")  # the prediction log is part of what is measured: SQLite in the scratch folder
    try:
        run(args, scratch, env, facts)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(args: argparse.Namespace, scratch: Path, env: dict, facts: dict) -> None:
    global SYMBOL
    if not (args.data_file and args.data_file.is_file()):
        SYMBOL = "BTCUSDT-SYNTHETIC"  # the synthetic market's models and candles
    if args.models_dir:
        models_dir = scratch / "models"
        shutil.copytree(args.models_dir / SYMBOL, models_dir / SYMBOL, symlinks=True)
        champion, challenger = args.champion, args.challenger
        if not (champion and challenger):
            raise SystemExit("with --models-dir, name --champion and --challenger")
    else:
        models_dir = scratch / "models"
        console.print("training two small models to serve (tcn, cnn_lstm; 30 days, 1 epoch) ...", highlight=False)
        champion, challenger = train_models(models_dir, args.data_file, {**env, "ATB_DB": "off"})
    atb("ab", "promote", SYMBOL, champion, "--models-dir", str(models_dir), env=env)
    body = candles_body(args.data_file, args.candles)
    results: dict = {"candles": args.candles, "body_bytes": len(body), "champion": champion,
                     "challenger": challenger}
    rows = []

    startups = []
    for _ in range(args.startup_runs):
        server = Server(models_dir, env, "--no-db")
        startups.append(server.started_s)
        server.stop()
    results["startup_s"] = {"runs": startups, "median": float(np.median(startups)), "min": float(min(startups))}
    rows.append(["start-up to ready /health (s)", f"median {np.median(startups):.2f}, min {min(startups):.2f}",
                 "< 1.5"])

    for workers in [int(w) for w in args.workers.split(",")]:
        server = Server(models_dir, env, workers=workers)
        try:
            single = asyncio.run(single_client(server.port, body, args.single, warmup=100))
            loaded = asyncio.run(open_loop(server.port, body, args.rate, args.seconds, args.connections))
            steps, best = [], None
            for rate in [float(r) for r in args.rates.split(",")]:
                step = asyncio.run(open_loop(server.port, body, rate, args.step_seconds, args.connections))
                step.pop("versions")
                steps.append(step)
                console.print(f"  {workers} worker(s), {rate:.0f} req/s offered: p99 {step['p99_ms']:.1f} ms, "
                              f"{step['errors']} errors", highlight=False)
                if step["p99_ms"] < P99_LIMIT_S * 1000 and step["errors"] == 0:
                    best = rate
                else:
                    break
        finally:
            server.stop()
        loaded.pop("versions")
        results[f"workers_{workers}"] = {"single": single, "open_loop": loaded, "steps": steps,
                                         "max_rate_p99_under_100ms": best}
        rows += [
            [f"{workers}w: 1 client, p50 / p99 (ms)", f"{single['p50_ms']:.2f} / {single['p99_ms']:.2f}",
             "< 5 / < 15"],
            [f"{workers}w: {args.rate:.0f} req/s x {args.connections} conn, p99 (ms), errors",
             f"{loaded['p99_ms']:.1f}, {loaded['errors']}", "< 50, 0"],
            [f"{workers}w: highest rate with p99 < 100 ms (req/s)", "-" if best is None else f"{best:.0f}", ">= 600"],
        ]

    # Shadow against no shadow, alternating servers over a few rounds: the machine's load drifts between runs.
    plain, shadowed = [], []
    for _ in range(args.shadow_rounds):
        for extra, into in (([], plain), (["--shadow", challenger], shadowed)):
            server = Server(models_dir, env, "--version", champion, *extra)
            try:
                into.append(asyncio.run(single_client(server.port, body, args.single, warmup=100))["p50_ms"])
            finally:
                server.stop()
    base, with_shadow = float(np.median(plain)), float(np.median(shadowed))
    overhead = 100 * (with_shadow / base - 1)
    results["shadow"] = {"p50_ms_without": plain, "p50_ms_with": shadowed, "p50_overhead_pct": overhead}
    rows.append(["--shadow: 1 client p50 (ms), without / with, overhead",
                 f"{base:.2f} / {with_shadow:.2f}, {overhead:+.1f}%", "< +10%"])

    server = Server(models_dir, env, "--reload-interval", "0.5")
    try:
        promote = promotion(models_dir, env, challenger, at_s=args.seconds / 2)
        during = asyncio.run(open_loop(server.port, body, 200, args.seconds, 16, during=promote))
    finally:
        server.stop()
        atb("ab", "promote", SYMBOL, champion, "--models-dir", str(models_dir), env=env)
    versions = during.pop("versions")
    after = [v for t, v in versions if promote.promoted_at and t > promote.promoted_at + 1.0]  # 2 reload looks
    results["promotion"] = {**during, "promoted_at_s": promote.promoted_at, "answers_after": len(after),
                            "all_after_are_challenger": bool(after) and all(v == challenger for v in after)}
    rows.append(["promote mid-load (200 req/s): failed requests, new version after",
                 f"{during['errors']}, " + ("no answer after it: a longer --seconds" if not after else
                                            "yes" if results["promotion"]["all_after_are_challenger"] else "NO"),
                 "0, yes"])

    print_table(f"atb serve on loopback, {args.candles} candles per request ({len(body):,} bytes)",
                ["measure", "measured", "goal"], rows, caption=f"load average at start {facts['load_average_1m']}")
    write_results("serve_latency", args, results, facts)


if __name__ == "__main__":
    main()
