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
