"""One report of each kind, made from small fixtures (no torch, a few seconds in all): the benchmark with the fake
trainer (two seeds, two walk-forward folds, synthetic), a backtest, a comparison, an A/B report and a search."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

KINDS = ("phase1", "backtest", "compare", "ab", "tune")


def cli(argv: list[str]) -> None:
    """`atb ARGV` through the real entry point; fails the test on a non-zero exit."""
    from atb.cli import main

    with pytest.raises(SystemExit) as info:
        main.run(argv)
    assert info.value.code in (0, None), f"atb {' '.join(argv)} exited {info.value.code}"


def phase1_report(folder: Path) -> tuple[Path, object]:
    import atb.benchmark.runner as runner
    from atb.benchmark.phase1 import run_phase1
    from atb.benchmark.settings import make_settings
    from fakes.phase1 import fake_train

    settings = make_settings(quick=True, full=False, data_source="synthetic", models_dir=folder / "models",
                             output_dir=folder / "artifacts", seeds=2, walk_forward=2, log_to_db=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "train_model", lambda req, rep=None: fake_train(req, rep))
        result = run_phase1(settings)
    return result.files["html"], result


def backtest_report(folder: Path) -> Path:
    from fakes.versions import write_version

    write_version(folder / "models", "2025-01-05_000000_tcn_default", architecture="tcn", synthetic=True,
                  n_test=150)
    out = folder / "backtest.html"
    cli(["backtest", "BTCUSDT", "--models-dir", str(folder / "models"), "-v", "2025-01-05_000000_tcn_default",
         "--html", str(out)])
    return out


def compare_report(folder: Path) -> Path:
    from fakes.versions import write_version

    models = folder / "models"
    write_version(models, "2025-01-05_000000_cnn_lstm_default", architecture="cnn_lstm", skill=0.2,
                  synthetic=True)
    write_version(models, "2025-01-05_000001_tcn_default", architecture="tcn", skill=0.5, synthetic=True)
    out = folder / "compare.html"
    cli(["models", "compare", "BTCUSDT", "--models-dir", str(models), "--html", str(out)])
    return out


def ab_result():
    """A champion and a better challenger on 200 realised hourly target times of the synthetic market."""
    from atb.serving.ab_report import build_report
    from fakes.serving import candles

    market = candles(220)
    close = market.set_index("open_time")["close"]
    targets = market["open_time"].iloc[1:]
    hour = pd.Timedelta(hours=1)
    frames = []
    for seed, (version, role, noise) in enumerate((("champ", "champion", 40.0), ("chall", "challenger", 10.0))):
        rng = np.random.default_rng(seed)
        last = close.reindex(targets - hour).to_numpy()
        predicted = close.reindex(targets).to_numpy() + rng.normal(0, noise, len(targets))
        frames.append(pd.DataFrame({
            "created_at": targets + pd.Timedelta(seconds=3), "symbol": "BTCUSDT", "version_id": version, "role": role,
            "timeframe": "1h", "last_time": targets - hour, "target_time": targets, "last_close": last,
            "predicted_close": predicted}))
    return build_report("BTCUSDT", pd.concat(frames, ignore_index=True), market, champion="champ",
                        challenger="chall", timeframe="1h", horizon=1, metadata={})


def ab_report(folder: Path) -> Path:
    from atb.reports.ab import write_ab_report

    return write_ab_report(folder / "ab.html", ab_result(), synthetic=True)


def tune_summary() -> dict:
    """What `atb tune show` returns for a small study: complete, pruned and failed trials, importances."""
    start = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    rng = np.random.default_rng(3)
    trials = []
    for number in range(14):
        state = "PRUNED" if number in (3, 7, 9) else "FAIL" if number == 11 else "COMPLETE"
        lr = float(10 ** rng.uniform(-4, -2))
        value = None if state in ("FAIL",) else float(0.002 + 0.0005 * rng.random() + 0.05 * lr)
        begin = start + timedelta(minutes=2 * number)
        trials.append({"number": number, "state": state, "value": value,
                       "params": {"learning_rate": lr, "hidden": int(rng.choice([32, 64, 128])),
                                  "dropout": round(float(rng.uniform(0, 0.4)), 3)},
                       "datetime_start": begin.isoformat(), "datetime_complete": (begin + timedelta(seconds=75))
                       .isoformat(), "user_attrs": {"epochs_run": 5}})
    done = [t for t in trials if t["state"] == "COMPLETE"]
    best = min(done, key=lambda t: t["value"])
    return {"study": "tcn-BTCUSDT-1h", "storage": "journal:/tmp/studies/tcn.log", "direction": "minimize",
            "trials": trials, "best": {k: best[k] for k in ("number", "value", "params")},
            "importances": {"learning_rate": 0.71, "hidden": 0.18, "dropout": 0.11}}


def tune_report(folder: Path) -> Path:
    from atb.reports.tune import write_tune_report

    return write_tune_report(tune_summary(), folder / "tune.html", synthetic=True)


def all_reports(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {"phase1": phase1_report(folder / "phase1")[0]}
    for kind, make in (("backtest", backtest_report), ("compare", compare_report), ("ab", ab_report),
                       ("tune", tune_report)):
        sub = folder / kind
        sub.mkdir()
        out[kind] = make(sub)
    return out
