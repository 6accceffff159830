"""`atb backtest SYMBOL` on a version folder: every figure recomputes from predictions.parquet by the protocol
(tests/fakes/trading.py, written without atb.backtest), the threshold never reads a test row, versions from
before the split column, and bad input in one line each."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atb.backtest.threshold import THRESHOLD_COST_MULTIPLES
from fakes import trading as reference

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "versions"
OLD_VERSION = "2026-12-02_180708_cnn_lstm_lightweight"  # written before validation predictions were stored
VERSION = "2026-12-03_120000_tcn_default"


def market(n: int, seed: int, start: str) -> pd.DataFrame:
    """Consecutive 1h bars of a random walk and a forecast with a little skill (part of the next move + noise)."""
    rng = np.random.default_rng(seed)
    close = 20_000 * np.exp(np.cumsum(rng.normal(0, 0.006, n + 1)))
    last, actual = close[:-1], close[1:]
    predicted = last * np.exp(0.15 * np.log(actual / last) + rng.normal(0, 0.002, n))
    return pd.DataFrame({"target_time": pd.date_range(start, periods=n, freq="h", tz="UTC"), "last_close": last,
                         "actual_close": actual, "predicted_close": predicted})


def predictions(validation_seed: int = 1, test_seed: int = 2) -> pd.DataFrame:
    validation = market(300, validation_seed, "2024-03-01 00:00").assign(split="validation")
    test = market(400, test_seed, "2024-03-14 00:00").assign(split="test")
    return pd.concat([validation, test], ignore_index=True)


def write_version(models: Path, table: pd.DataFrame, *, horizon: int = 1, extra: dict | None = None,
                  symbol: str = "BTCUSDT", name: str = VERSION) -> Path:
    folder = models / symbol / "price" / name
    folder.mkdir(parents=True)
    table.to_parquet(folder / "predictions.parquet", index=False)
    (folder / "model.onnx").write_bytes(b"")  # the registry's completeness check; the backtest never loads it
    meta = {"symbol": "BTCUSDT", "version_id": name,
            "training_params": {"architecture": "tcn", "architecture_variant": "default", "timeframe": "1h",
                                "horizon": horizon},
            "data": {"source": "file:test", "synthetic": False}, "evaluation_results": {}, "performance": {},
            "artifacts": {"predictions": "predictions.parquet"}, **(extra or {})}
    (folder / "metadata.json").write_text(json.dumps(meta))
    latest = folder.parent / "latest"
    latest.unlink(missing_ok=True)
    latest.symlink_to(name)
    return folder


@pytest.fixture
def models(tmp_path: Path) -> Path:
    write_version(tmp_path / "models", predictions())
    return tmp_path / "models"


def backtest_json(atb_cli, models: Path, *args: str, symbol: str = "BTCUSDT") -> dict:
    result = atb_cli(["backtest", symbol, "--models-dir", str(models), "--json", *args])
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_the_reference_uses_the_same_threshold_grid():
    assert reference.GRID_COST_MULTIPLES == THRESHOLD_COST_MULTIPLES


@pytest.mark.parametrize("args", [(), ("--mode", "long_short"), ("--fee-bps", "0", "--slippage-bps", "0"),
                                  ("--threshold", "0.0004"), ("--fee-bps", "25", "--mode", "long_short")])
def test_every_figure_recomputes_from_predictions_parquet(atb_cli, models, args):
    shown = backtest_json(atb_cli, models, *args)
    options = dict(zip(args[::2], args[1::2], strict=True))
    expected = reference.backtest(
        pd.read_parquet(models / "BTCUSDT/price/latest/predictions.parquet"),
        mode=options.get("--mode", "long_flat"), fee_bps=float(options.get("--fee-bps", 10)),
        slippage_bps=float(options.get("--slippage-bps", 2)),
        threshold=float(options["--threshold"]) if "--threshold" in options else None)
    reference.assert_same(shown, expected)
    assert shown["threshold_source"] == ("flag" if "--threshold" in options else "validation")
    assert (shown["version"], shown["n_bars"], shown["test_start"]) == (VERSION, 400, "2024-03-14T00:00:00Z")
    assert shown["dsr"] is None and shown["n_trials"] is None  # no search recorded


def test_the_threshold_never_reads_a_test_row(atb_cli, tmp_path):
    clean = predictions()
    poisoned = clean.copy()
    test = poisoned["split"] == "test"
    rng = np.random.default_rng(9)
    # the test forecasts and prices rewritten wholesale: any threshold chosen on them would change
    poisoned.loc[test, "predicted_close"] *= np.exp(rng.normal(0, 0.05, test.sum()))
    poisoned.loc[test, "actual_close"] = poisoned.loc[test, "predicted_close"] * 1.01
    chosen = []
    for i, table in enumerate((clean, poisoned)):
        write_version(tmp_path / str(i), table)
        chosen.append(backtest_json(atb_cli, tmp_path / str(i)))
    assert chosen[0]["threshold"] == chosen[1]["threshold"] > 0
    assert chosen[0]["threshold_grid"] == chosen[1]["threshold_grid"]
    assert chosen[0]["strategy"]["sharpe"] != chosen[1]["strategy"]["sharpe"]  # the test rows were read after
    # ... while other validation predictions do move it: the choice reads validation
    write_version(tmp_path / "other", predictions(validation_seed=5))
    assert backtest_json(atb_cli, tmp_path / "other")["threshold_grid"] != chosen[0]["threshold_grid"]


def test_a_version_without_the_split_column_backtests_all_rows_with_threshold_zero(atb_cli, tmp_path):
    price = tmp_path / "models" / "BTCUSDT-SYNTHETIC" / "price"
    shutil.copytree(FIXTURES / OLD_VERSION, price / OLD_VERSION)
    frame = pd.read_parquet(price / OLD_VERSION / "predictions.parquet")
    assert "split" not in frame
    shown = backtest_json(atb_cli, tmp_path / "models", "-v", OLD_VERSION, symbol="BTCUSDT-SYNTHETIC")
    assert (shown["threshold"], shown["threshold_source"], shown["n_bars"]) == (0.0, "default", len(frame))
    reference.assert_same(shown, reference.backtest(frame))
    table = atb_cli(["backtest", "BTCUSDT-SYNTHETIC", "-v", OLD_VERSION, "--models-dir", str(tmp_path / "models")])
    assert table.code == 0 and "stores no validation predictions" in table.out


def test_the_deflated_sharpe_uses_the_search_recorded_in_metadata(atb_cli, tmp_path):
    searched = write_version(tmp_path / "models", predictions(),
                             extra={"tuning": {"n_trials": 40, "trial_sharpe_var": 4.0}})
    shown = backtest_json(atb_cli, tmp_path / "models")
    assert shown["n_trials"] == 40 and 0 <= shown["dsr"] < shown["psr_vs_zero"]  # deflated: harder to pass
    text = atb_cli(["backtest", "BTCUSDT", "--models-dir", str(tmp_path / "models")]).out
    assert "a search over 40 configurations" in text and searched.name in text


def test_the_table_fits_80_columns_and_cuts_no_number(atb_cli, models, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = atb_cli(["backtest", "BTCUSDT", "--models-dir", str(models)])
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    shown = backtest_json(atb_cli, models)
    rows = {line.split("  ")[0].strip(): line for line in lines}
    sharpe = rows["Sharpe"].split()
    assert sharpe[1:] == [f"{shown[s]['sharpe']:.2f}" for s in ("strategy", "buy_and_hold", "momentum")] + ["—"]
    low, high = shown["strategy"]["sharpe_ci95"]
    assert f"[{low:.2f}, {high:.2f}]" in rows["Sharpe 95% CI"]
    assert rows["trades"].split()[1:] == [str(shown[s]["n_trades"]) for s in ("strategy", "buy_and_hold",
                                                                               "momentum", "cash")]
    assert f"threshold {shown['threshold']:.6f} (validation" in result.out
    assert f"PSR vs buy-and-hold: {shown['psr_vs_buy_and_hold']:.3f}" in result.out


def test_plot_writes_an_equity_and_drawdown_png(atb_cli, models, tmp_path):
    shown = backtest_json(atb_cli, models, "--plot", str(tmp_path / "charts" / "bt.png"))
    assert shown["plot"] == str(tmp_path / "charts" / "bt.png")
    assert (tmp_path / "charts" / "bt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--mode", "short_only"], "unknown backtest mode 'short_only'; use one of: long_flat, long_short"),
    (["--fee-bps", "-1"], "fees and slippage must be >= 0 bps (got fee -1.0, slippage 2.0)"),
    (["--slippage-bps", "-0.5"], "fees and slippage must be >= 0 bps"),
    (["--threshold", "-0.001"], "the threshold must be a finite number >= 0"),
    (["--plot", "chart.svg"], "the chart is a PNG file"),
    (["-v", "2020-01-01_000000_tcn_default"], "model version '2020-01-01_000000_tcn_default' not found"),
])
def test_bad_input_is_one_line_and_nonzero(atb_cli, models, args, message):
    result = atb_cli(["backtest", "BTCUSDT", "--models-dir", str(models), *args])
    assert result.code != 0 and result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.err


def test_a_longer_horizon_is_refused_in_one_line(atb_cli, tmp_path):
    write_version(tmp_path / "models", predictions(), horizon=4)
    result = atb_cli(["backtest", "BTCUSDT", "--models-dir", str(tmp_path / "models")])
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith(f"error: {VERSION}: the backtest supports horizon 1 only (got 4)")


def test_a_damaged_split_column_is_one_line(atb_cli, tmp_path):
    write_version(tmp_path / "models", predictions().replace({"split": {"validation": "train"}}))
    result = atb_cli(["backtest", "BTCUSDT", "--models-dir", str(tmp_path / "models")])
    assert result.code == 1 and result.err.count("\n") == 1 and "unknown value(s) 'train'" in result.err


def test_backtest_reads_no_torch(models):
    code = ("import sys; from atb.cli.main import run\n"
            "try:\n    run(['backtest', 'BTCUSDT', '--models-dir', sys.argv[1], '--json'])\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules and 'onnxruntime' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code, str(models)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
