#!/usr/bin/env python
"""How long `atb tune run` takes, how many of its trials the pruner stops, and what a Ray trial costs beyond its fit.

Local: one `atb tune run SYMBOL --model-type tcn --trials N --days D --epochs E --workers K` in a fresh
subprocess and a fresh ATB_DATA_DIR (wall time from the fork to the exit, including the data load, the final
scoring of the best configuration on test and the default configuration's run for the DM comparison); the search
alone (the CLI's --json `search_seconds`), the share of pruned trials and the mean trial time come from the study.

Ray (--ray ADDRESS, a running `ray start --head`): R trials of a tiny TCN, one at a time, through atb's Ray Tune
path; the overhead per trial is (wall of the search - sum of the trials' own fit time) / R: submit to result,
including Tune's scheduling, the actor start and the result's way back.

    python benchmarks/tune_speed.py                       # the issue's figure: 30 trials, 30 days, 20 epochs, 2 workers
    python benchmarks/tune_speed.py --trials 6 --days 10 --epochs 4 --ray 127.0.0.1:6379   # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
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


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-file", type=Path, default=DEFAULT_DATA_FILE)
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--days", type=float, default=30)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--model-type", default="tcn")
    p.add_argument("--ray", default=None, help="Also measure the Ray path on this cluster (HOST:PORT).")
    p.add_argument("--ray-trials", type=int, default=6)
    p.add_argument("--ray-days", type=float, default=8)
    p.add_argument("--ray-epochs", type=int, default=3)
    p.add_argument("--skip-local", action="store_true")
    add_output_options(p)
    return p.parse_args()


def study_facts(data_dir: Path, study: str) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ["ATB_DATA_DIR"] = str(data_dir)
    from atb.tuning.result import study_summary
    from atb.tuning.storage import resolve

    s = study_summary(study, resolve(None, study))
    finished = [t for t in s["trials"] if t["state"] in ("COMPLETE", "PRUNED")]
    durations = [t["duration_s"] for t in finished if t["duration_s"] is not None]
    pruned = sum(t["state"] == "PRUNED" for t in finished)
    return {"counts": s["counts"], "pruned_share": pruned / len(finished) if finished else None,
            "mean_trial_s": sum(durations) / len(durations) if durations else None,
            "best_value": s["best"]["value"] if s["best"] else None}


def local(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="atb-tune-speed-") as tmp:
        data_dir = Path(tmp) / "data"
        cmd = [sys.executable, "-m", "atb.cli.main", "tune", "run", "BTCUSDT", "--model-type", args.model_type,
               "--trials", str(args.trials), "--days", str(args.days), "--epochs", str(args.epochs),
               "--workers", str(args.workers), "--data-file", str(args.data_file), "--study", "speed",
               "--models-dir", str(Path(tmp) / "models"), "--no-db", "--json"]
        env = quiet_env(ATB_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT / "src"))
        env.pop("ATB_THREADS", None)  # threads per worker = cores / workers, as a user gets them
        timed = run_timed(cmd, env=env)
        if timed.returncode != 0:
            raise SystemExit(f"atb tune run failed ({timed.returncode}): {timed.stderr.strip()[-500:]}")
        out = json.loads(timed.stdout)
        facts = study_facts(data_dir, "speed")
    return {"command": " ".join(["atb", *cmd[3:]]), "wall_s": timed.wall_s, "search_s": out["search_seconds"],
            **facts, "dm": (out["tuning"] or {}).get("default_configuration")}


def ray_overhead(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    with tempfile.TemporaryDirectory(prefix="atb-tune-ray-") as tmp:
        os.environ["ATB_DATA_DIR"] = str(Path(tmp) / "data")
        from atb.tuning.local import SearchPlan
        from atb.tuning.ray_backend import run_ray
        from atb.tuning.runner import check_plan
        from atb.tuning.settings import TuneSettings
        from atb.tuning.storage import resolve

        settings = TuneSettings(symbol="BTCUSDT", architecture=args.model_type, days=args.ray_days,
                                epochs=args.ray_epochs, patience=args.ray_epochs, data_source="file",
                                data_file=str(args.data_file), threads=1)
        plan = check_plan(SearchPlan("ray-speed", resolve(None, "ray-speed"), settings, args.ray_trials))
        start = time.perf_counter()
        timing = run_ray(plan, args.ray, max_concurrent=1)  # includes connecting (ray.init)
        total = time.perf_counter() - start
    n = timing["trials"]
    return {"trials": n, "connect_and_search_s": total, "search_wall_s": timing["wall_s"], "fit_s": timing["fit_s"],
            "overhead_per_trial_s": (timing["wall_s"] - timing["fit_s"]) / n if n else None,
            "days": args.ray_days, "epochs": args.ray_epochs}


def main() -> None:
    args = parse_args()
    facts = machine_facts(probe_cuda=False)
    console.print(describe_machine(facts), highlight=False)
    results: dict = {}
    rows = []
    if not args.skip_local:
        r = results["local"] = local(args)
        rows.append([f"local, {args.workers} workers", f"{r['wall_s']:.0f}", f"{r['search_s']:.0f}",
                     str(r["counts"]["complete"] + r["counts"]["pruned"]), f"{100 * (r['pruned_share'] or 0):.0f}%",
                     f"{r['mean_trial_s']:.1f}" if r["mean_trial_s"] else "-", "-"])
    if args.ray:
        r = results["ray"] = ray_overhead(args)
        rows.append([f"ray {args.ray}, 1 at a time", f"{r['connect_and_search_s']:.0f}", f"{r['search_wall_s']:.0f}",
                     str(r["trials"]), "-", f"{r['fit_s'] / max(r['trials'], 1):.1f}",
                     f"{r['overhead_per_trial_s']:.2f}"])
    print_table(f"atb tune: {args.model_type}, {args.trials} trials, {args.days:g} days, {args.epochs} epochs",
                ["run", "wall s", "search s", "trials", "pruned", "fit s/trial", "Ray overhead s/trial"], rows,
                caption="wall: the whole command (data, search, final scoring and the default run); search: "
                        "the trials alone")
    write_results("tune_speed", args, results, facts)


if __name__ == "__main__":
    main()
