"""The benchmark end to end with a fake train_model (no torch): files, failures, exit codes, run log."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import atb.benchmark.runner as runner
from atb.benchmark.phase1 import PLOT_FILE, REPORT_FILE, RESULTS_FILE, run_phase1
from atb.benchmark.settings import make_settings
from atb.cli import bench
from atb.errors import DataError
from fakes import trading as trading_reference
from fakes.phase1 import ARCHITECTURES, SKILL, N, fake_forecasts, fake_train, split  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake(monkeypatch):
    state = {"fail": None, "recorded": []}
    monkeypatch.setattr(runner, "train_model", lambda req, rep=None: fake_train(req, rep, state["fail"]))

    def record(settings, results, decision, version_ids, status):
        state["recorded"].append((settings, results, decision, version_ids, status))
        return 7

    import atb.tracking

    monkeypatch.setattr(atb.tracking, "record_benchmark", record, raising=False)
    return state


def quick(tmp_path, **kw):
    return make_settings(**{"quick": True, "full": False, "data_source": "synthetic", "models_dir": tmp_path / "m",
                            "output_dir": tmp_path / "out", **kw})


def test_writes_results_report_and_plot(tmp_path, fake):
    result = run_phase1(quick(tmp_path, seeds=2, walk_forward=2))
    assert result.status == "completed" and not result.failed and len(result.records) == 4 * N
    out = tmp_path / "out"
    data = json.loads((out / RESULTS_FILE).read_text())  # strict JSON: no NaN
    assert data["counts"] == {"runs": 4 * N, "completed": 4 * N, "failed": 0, "not_run": 0}
    run = data["runs"][0]
    assert {"architecture", "variant", "seed", "fold", "status", "error", "version_dir", "metadata_path",
            "metrics"} <= set(run)
    assert Path(run["metadata_path"]).is_file() and run["metrics"]["test_rmse"] > 0
    assert data["settings"]["seeds"] == [42, 43] and data["settings"]["smoke_test"] is True
    assert data["summary"]["windows"] == 2 * 26 and len(data["per_fold"]) == 2  # two folds' test intervals
    first, second = data["folds"]
    assert (first["fold"], first["runs"], first["completed"], first["runs_agree"]) == (1, 2 * N, 2 * N, True)
    assert first["test"]["n"] == second["test"]["n"] == 26
    assert pd.Timestamp(first["test_interval"]["end"]) + pd.Timedelta(hours=1) == pd.Timestamp(
        second["test_interval"]["start"])
    assert data["decision"]["headline"].startswith("SMOKE TEST")
    report = (out / REPORT_FILE).read_text()
    assert report.startswith("# Phase 1A quick validation (SMOKE TEST): BTCUSDT 1h — SYNTHETIC data")
    assert ("| model | RMSE | MAE | MAPE % | dir. acc. % [95% CI] | up % fc/act | PT p | fit s | fit s/1k win | "
            "ONNX p50 ms | params | RMSE vs base | DM p vs base | DM p vs naive |") in report
    assert "naive (last close)" in report and "mean ± std across 2 seeds" in report and "±" in report
    assert "## Decision" in report and "### Fold 2 of 2" in report and "### Seed 43" in report
    assert "| fold | test interval (planned) | train | validation | test |" in report
    # Every sentence true of the run: the synthetic market is one timeline (folds see different stretches),
    # and a smoke test quotes no scenario's reasons.
    assert "repeat one series" not in report
    assert "NO DECISION" in report and "likely implementation issue" not in report
    png = (out / PLOT_FILE).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (3000, 750)  # figsize (20, 5) at dpi 150


def test_the_decision_reflects_the_results(tmp_path, fake):
    result = run_phase1(quick(tmp_path, quick=False, full=True, seeds=1))
    att = result.summary.row("attention_lstm (default)")
    assert att.mean["rmse_improvement_pct"] > 10  # the fake attention model foresees twice as much
    assert result.decision.scenario == (1 if att.dm_vs_baseline["p_value_one_sided"] < 0.05 else 3)
    assert "attention_lstm (default)" in result.decision.beats_naive
    assert result.decision.to_dict()["text"] in (tmp_path / "out" / RESULTS_FILE).read_text().replace("\\n", "\n")


def test_overlapping_folds_are_refused_after_writing_the_runs(tmp_path, fake, monkeypatch, capsys):
    def overlapping(req, reporter=None):  # 120 test windows per fold, whatever its test interval (26 bars)
        return fake_train(replace(req, test_start=None), reporter)

    monkeypatch.setattr(runner, "train_model", overlapping)
    with pytest.raises(DataError, match="94 test target times are scored by more than one walk-forward fold"):
        run_phase1(quick(tmp_path, walk_forward=2, log_to_db=False))
    data = json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    assert data["status"] == "failed" and data["summary"] is None and data["counts"]["completed"] == 2 * N
    assert "scored by more than one walk-forward fold" in data["error"]
    report = (tmp_path / "out" / REPORT_FILE).read_text()
    assert "No summary: cnn_lstm (default) seed 42: 94 test target times" in report
    with pytest.raises(SystemExit) as caught:  # the script: one line, non-zero
        bench.run_script(["--quick", "--walk-forward", "2", "--data-source", "synthetic", "--models-dir",
                          str(tmp_path / "m2"), "--output-dir", str(tmp_path / "out2"), "--no-db"])
    assert caught.value.code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        "error: cnn_lstm (default) seed 42: 94 test target times are scored by more than one walk-forward fold")


@pytest.mark.parametrize(("end_date", "last"), [
    ("2022-12-30", "2022-12-30T23:00:00Z"),  # a bare date includes its whole day
    ("2021-09-30T12:00", "2021-09-30T12:00:00Z"),  # a time means that time
])
def test_end_date_sets_the_newest_test_target_time(tmp_path, fake, shared_data, end_date, last):
    with pytest.raises(SystemExit) as caught:
        bench.run_script(["--quick", "--walk-forward", "2", "--models", "tcn", "--end-date", end_date,
                          "--data-file", str(shared_data / "BTCUSDT_1h_2017-08_2022-12.csv"), "--models-dir",
                          str(tmp_path / "m"), "--output-dir", str(tmp_path / "out"), "--no-db"])
    assert caught.value.code == 0
    data = json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    assert data["settings"]["end_date"] == end_date and data["data"]["last_candle"] == last
    assert [f["test_interval"]["end"] for f in data["folds"]][-1] == last
    assert data["runs"][-1]["test_end"] == last


def test_a_failed_run_is_recorded_and_the_rest_still_compared(tmp_path, fake):
    fake["fail"] = "tcn"
    result = run_phase1(quick(tmp_path))
    assert result.status == "partial" and [r.architecture for r in result.failed] == ["tcn"]
    assert result.failed[0].error == "DataError: no candles for this run"
    assert [r.label for r in result.summary.rows] == [*(f"{a} (default)" for a in ARCHITECTURES if a != "tcn"),
                                                      "naive (last close)"]
    data = json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    assert data["status"] == "partial" and data["runs"][ARCHITECTURES.index("tcn")]["status"] == "failed"
    assert "DataError: no candles for this run" in (tmp_path / "out" / REPORT_FILE).read_text()


def test_all_runs_failing_still_writes_the_results(tmp_path, monkeypatch):
    def broken(req, reporter=None):
        raise RuntimeError("kaput")

    monkeypatch.setattr(runner, "train_model", broken)
    result = run_phase1(quick(tmp_path, log_to_db=False))
    assert result.status == "failed" and result.summary is None and result.decision is None
    data = json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    assert data["runs"][0]["traceback"] and "RuntimeError: kaput" in data["runs"][0]["error"]
    assert "No run completed" in (tmp_path / "out" / REPORT_FILE).read_text()
    assert not (tmp_path / "out" / PLOT_FILE).exists()


def test_recorded_in_the_run_log_unless_no_db(tmp_path, fake):
    result = run_phase1(quick(tmp_path))
    assert result.benchmark_id == 7
    settings, results, decision, versions, status = fake["recorded"][0]
    assert settings["mode"] == "quick" and results["status"] == "completed" and status == "completed"
    assert decision == result.decision.headline and versions == [r.version_id for r in result.records]
    run_phase1(quick(tmp_path, log_to_db=False))
    assert len(fake["recorded"]) == 1


def test_a_missing_tracking_module_is_skipped(tmp_path, fake, monkeypatch):
    monkeypatch.setitem(sys.modules, "atb.tracking", None)  # import -> ImportError
    assert run_phase1(quick(tmp_path)).benchmark_id is None


def test_interrupt_writes_partial_results_then_stops(tmp_path, monkeypatch):
    calls = []

    def interrupted(req, reporter=None):
        calls.append(req.architecture)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fake_train(req)

    monkeypatch.setattr(runner, "train_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_phase1(quick(tmp_path, log_to_db=False))
    data = json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    assert data["status"] == "interrupted" and data["counts"]["not_run"] == N - 2
    assert [r["status"] for r in data["runs"]] == ["completed", "interrupted"]


def test_cli_failures_exit_non_zero_with_one_line(tmp_path, fake, capsys):
    fake["fail"] = "attention_lstm"
    with pytest.raises(SystemExit) as caught:
        bench.run_script(["--quick", "--data-source", "synthetic", "--models-dir", str(tmp_path / "m"),
                          "--output-dir", str(tmp_path / "out"), "--no-db"])
    assert caught.value.code == 1
    err = capsys.readouterr().err
    assert f"run 2/{N}: attention_lstm default seed 42" in err
    assert err.strip().splitlines()[-1] == f"error: 1 of {N} runs failed (see {tmp_path / 'out' / RESULTS_FILE})"


def test_cli_success_prints_table_and_decision(tmp_path, fake, capsys):
    with pytest.raises(SystemExit) as caught:
        bench.run_script(["--quick", "--data-source", "synthetic", "--models", "cnn_lstm,attention_lstm:deep",
                          "--models-dir", str(tmp_path / "m"), "--output-dir", str(tmp_path / "out"), "--no-db"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "attention_lstm (deep)" in out and "Decision: SMOKE TEST" in out and "phase1_report.md" in out


@pytest.mark.parametrize(("args", "message"), [
    ([], "error: choose one of --quick"),
    (["--quick", "--models", "rnn"], "error: --models 'rnn': unknown model type 'rnn'"),
    (["--full", "--seeds", "0"], "error: --seeds must be at least 1"),
    (["--quick", "--nope"], "error: No such option: --nope"),
    (["--quick", "--end-date", "someday"], "error: --end-date: cannot read 'someday' as a date"),
])
def test_script_bad_arguments_are_one_line_without_traceback(args, message):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "phase1_benchmark.py"), *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_bench_app_has_the_phase1_command():
    from typer.testing import CliRunner

    result = CliRunner().invoke(bench.app, ["phase1", "--help"])
    assert result.exit_code == 0
    for option in ("--quick", "--full", "--models", "--seeds", "--walk-forward", "--data-file", "--no-db"):
        assert option in result.output


def test_cli_json_prints_the_results_and_threads_reach_every_run(tmp_path, fake, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(runner, "train_model", lambda req, rep=None: seen.append(req.threads) or fake_train(req, rep))
    with pytest.raises(SystemExit) as caught:
        bench.run_script(["--quick", "--data-source", "synthetic", "--models-dir", str(tmp_path / "m"),
                          "--output-dir", str(tmp_path / "out"), "--no-db", "--threads", "1", "--json"])
    assert caught.value.code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    assert printed["settings"]["threads"] == 1 and seen == [1] * N


def run_predictions(result, label: str) -> list[pd.DataFrame]:
    """predictions.parquet of each completed run of a model, in run order."""
    return [pd.read_parquet(Path(r.version_dir) / "predictions.parquet") for r in result.records
            if r.ok and r.label == label]


def test_the_trading_section_recomputes_from_the_runs_predictions(tmp_path, fake):
    result = run_phase1(quick(tmp_path, quick=False, full=True, seeds=1, log_to_db=False))
    trading = result.summary.trading
    assert trading.threshold_sources == ["validation"] and trading.bars == result.summary.windows
    for row in result.summary.rows[:-1]:
        (table,) = run_predictions(result, row.label)
        expected = trading_reference.backtest(table)
        got = trading.row(row.label)
        trading_reference.assert_same({"sharpe": got.sharpe, "sharpe_ci95": got.sharpe_ci95,
                                       "psr_vs_zero": got.psr_vs_zero, "psr_vs_buy_and_hold": got.psr_vs_buy_and_hold,
                                       **got.mean},
                                      {**{k: v for k, v in expected["strategy"].items() if k != "sharpe_ci95"},
                                       **{k: expected[k] for k in ("psr_vs_zero", "psr_vs_buy_and_hold")},
                                       "sharpe_ci95": expected["strategy"]["sharpe_ci95"]})
        assert trading.thresholds[row.label] == [expected["threshold"]]
        # the summary row carries them for the decision (and phase1_results.json)
        assert row.flat()["backtest_psr_vs_buy_and_hold"] == pytest.approx(expected["psr_vs_buy_and_hold"])
        for name, label in (("buy_and_hold", "buy-and-hold"), ("momentum", "momentum"), ("cash", "cash")):
            assert trading.row(label).mean["total_return"] == pytest.approx(expected[name]["total_return"])
    data = json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    assert [r["label"] for r in data["summary"]["trading"]["rows"]][-3:] == ["buy-and-hold", "momentum", "cash"]
    report = (tmp_path / "out" / REPORT_FILE).read_text()
    assert "## Trading (after costs)" in report and "| model | Sharpe [95% CI] | PSR vs 0 | PSR vs buy-and-hold |" \
        in report
    assert "the same for every model and benchmark: long_flat, fee 10 + slippage 2 bps" in report
    # the economic verdict beside the forecast verdict
    assert "beats buy-and-hold after costs: " in result.decision.headline
    assert "Beats buy-and-hold after costs (the trading section's strategy; it needs PSR vs buy-and-hold > 0.95" \
        in report


def test_seeds_are_pooled_bar_by_bar_and_each_fold_enters_afresh(tmp_path, fake):
    result = run_phase1(quick(tmp_path, seeds=2, walk_forward=2, log_to_db=False))
    trading = result.summary.trading
    assert trading.bars == 2 * 26
    cost = 0.0012
    per_seed, hold = [], None
    for seed in (42, 43):
        runs = [r for r in result.records if r.label == "tcn (default)" and r.seed == seed]
        returns, hold_returns = [], []
        for r in sorted(runs, key=lambda r: r.fold):  # each fold: its own threshold, its own entry
            test, validation = trading_reference.splits(pd.read_parquet(Path(r.version_dir) / "predictions.parquet"))
            threshold, _ = trading_reference.choose_threshold(validation, "long_flat", cost)
            returns.append(trading_reference.net_returns(test, trading_reference.positions(test, "long_flat",
                                                                                           threshold), cost))
            hold_returns.append(trading_reference.net_returns(test, np.ones(len(test)), cost))
        per_seed.append(np.concatenate(returns))
        hold = np.concatenate(hold_returns)
    row = trading.row("tcn (default)")
    assert row.seed_sharpes == pytest.approx([trading_reference.sharpe_per_bar(r) * np.sqrt(8760) for r in per_seed])
    averaged = np.mean(per_seed, axis=0)
    assert row.sharpe == pytest.approx(trading_reference.sharpe_per_bar(averaged) * np.sqrt(8760))
    assert row.psr_vs_buy_and_hold == pytest.approx(
        trading_reference.psr(averaged, trading_reference.sharpe_per_bar(hold)))
    assert trading.row("buy-and-hold").mean["n_trades"] == 2  # one entry per fold
    assert row.std["sharpe"] == pytest.approx(np.std(row.seed_sharpes, ddof=1))


def test_poisoned_validation_rows_leave_every_forecast_figure_unchanged(tmp_path, monkeypatch):
    def poisoned(req, reporter=None):
        outcome = fake_train(req, reporter)
        path = outcome.version_dir / "predictions.parquet"
        table = pd.read_parquet(path)
        validation = table["split"] == "validation"
        table.loc[validation, "predicted_close"] *= 3.0
        table.loc[validation, "actual_close"] = 1.0
        table.to_parquet(path, index=False)
        return outcome

    summaries = {}
    for case, train in (("clean", fake_train), ("poisoned", poisoned)):
        monkeypatch.setattr(runner, "train_model", lambda req, rep=None, train=train: train(req, rep))
        result = run_phase1(quick(tmp_path / case, seeds=2, log_to_db=False))
        summaries[case] = [{k: v for k, v in r.flat().items() if not k.startswith("backtest_")}
                           for r in result.summary.rows]
    assert json.dumps(summaries["clean"]) == json.dumps(summaries["poisoned"])
