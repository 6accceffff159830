"""Metrics, the naive baseline, the Diebold-Mariano test and directional accuracy."""

import numpy as np
import pytest
from scipy import stats

from atb.evaluation.metrics import evaluate_forecasts
from atb.evaluation.stats import diebold_mariano, directional_accuracy


def test_naive_scores_are_those_of_last_close():
    last = np.array([100.0, 101.0, 102.0, 101.0])
    actual = np.array([101.0, 102.0, 101.0, 103.0])
    pred = np.array([100.5, 101.5, 102.5, 101.5])
    m = evaluate_forecasts(last, actual, pred)
    assert m["naive_test_rmse"] == pytest.approx(np.sqrt(np.mean((last - actual) ** 2)))
    assert m["naive_test_mae"] == pytest.approx(np.mean(np.abs(last - actual)))
    assert m["test_rmse"] == pytest.approx(np.sqrt(np.mean((pred - actual) ** 2)))
    assert m["mape"] == pytest.approx(100 * np.mean(np.abs(pred - actual) / actual))
    assert m["rmse_skill_vs_naive"] == pytest.approx(1 - m["test_rmse"] / m["naive_test_rmse"])
    assert m["directional_accuracy"] == pytest.approx(75.0)  # up, up, down(wrong), up


def test_diebold_mariano_matches_the_textbook_formula():
    rng = np.random.default_rng(0)
    e1, e2 = rng.normal(0, 1.0, 200), rng.normal(0, 1.3, 200)
    d = e1**2 - e2**2
    n = len(d)
    dm = d.mean() / np.sqrt(d.var() / n)
    hln = dm * np.sqrt((n + 1 - 2 + 0) / n)
    result = diebold_mariano(e1, e2)
    assert result.statistic == pytest.approx(hln)
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(hln), n - 1))
    assert result.statistic < 0 and result.p_value < 0.05  # e1 is the better forecast


def test_diebold_mariano_of_identical_forecasts_is_not_significant():
    e = np.random.default_rng(1).normal(size=50)
    assert diebold_mariano(e, e).p_value == 1.0


def test_directional_accuracy_interval_and_p_value():
    last = np.zeros(100)
    actual = np.ones(100)
    pred = np.r_[np.ones(60), -np.ones(40)]
    r = directional_accuracy(last, actual, pred)
    assert r.accuracy == 60.0 and r.correct == 60 and r.n == 100
    assert r.ci95[0] < 60 < r.ci95[1]
    assert r.p_value == pytest.approx(stats.binomtest(60, 100, 0.5).pvalue)


def _market(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    last = 100 * np.exp(rng.normal(0, 0.01, n).cumsum())
    actual = last * np.exp(rng.normal(0, 0.01, n))
    return last, actual


def test_a_forecast_of_one_sign_is_flagged_collapsed():
    last, actual = _market()
    always_up = last * np.exp(0.0001 + np.random.default_rng(1).normal(0, 1e-6, len(last)))
    m = evaluate_forecasts(last, actual, always_up)
    assert m["collapsed"] and "100% of the forecasts are up" in m["collapse_reason"]
    assert m["predicted_up_pct"] == 100.0


def test_a_forecast_that_barely_moves_is_flagged_collapsed():
    last, actual = _market()
    flat = last * np.exp(np.random.default_rng(2).normal(0, 1e-6, len(last)))  # both signs, spread 0.01%
    m = evaluate_forecasts(last, actual, flat)
    assert m["collapsed"] and "spread" in m["collapse_reason"] and m["forecast_spread_ratio"] < 0.005


def test_a_forecast_that_follows_its_input_is_not_collapsed():
    last, actual = _market()
    informed = last * np.exp(0.2 * np.log(actual / last) + np.random.default_rng(3).normal(0, 0.002, len(last)))
    m = evaluate_forecasts(last, actual, informed)
    assert not m["collapsed"] and m["collapse_reason"] == ""


def test_training_summary_shows_a_collapsed_forecast():
    from rich.console import Console

    from atb.cli.summary import print_training_summary
    from atb.registry.metadata import VersionMetadata

    last, actual = _market()
    ev = evaluate_forecasts(last, actual, last * 1.0001)
    meta = {"symbol": "BTCUSDT", "data": {"synthetic": False, "test": {"start": "2022-12-01T00:00:00Z",
                                                                        "end": "2022-12-31T23:00:00Z"}},
            "training_params": {"timeframe": "1h", "architecture": "attention_lstm", "architecture_variant": "default",
                                "epochs_run": 3, "best_epoch": 1},
            "evaluation_results": ev, "performance": {"training_time_s": 1.0, "inference_ms_p50": 0.1,
                                                      "parameters": 10}, "onnx": {"max_abs_diff": 1e-7}}
    console = Console(width=200, record=True)
    print_training_summary(console, VersionMetadata.from_json(meta))
    text = console.export_text()
    assert "collapsed forecast" in text and "100% of the forecasts are up" in text
    assert "100/" in text  # the forecast's up-rate beside the accuracy


@pytest.mark.parametrize(("imp", "p", "expected"), [
    (-3.2, 0.9, "WORSE than the baseline (-3.2% RMSE)"), (0.0, 0.5, "NO IMPROVEMENT"),
    (2.0, 0.01, "MARGINAL - Investigate further (significant, one-sided DM p=0.010)"),
    (12.0, 0.2, "EXCELLENT - Proceed to Phase 2 (not significant, one-sided DM p=0.200)"),
])
def test_guide_verdict_calls_a_worse_model_worse(imp, p, expected):
    from atb.evaluation.comparison import guide_verdict

    verdict = guide_verdict(imp, p)
    assert expected in verdict and ("MARGINAL" not in verdict if imp <= 0 else True)
