"""Sharpe inference against the papers' formulas, worked by hand: the Mertens/Opdyke standard error, the
Probabilistic Sharpe Ratio (Bailey & Lopez de Prado 2012) and the Deflated Sharpe Ratio (Bailey & Lopez de
Prado 2014), all on per-bar Sharpe ratios."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from atb.backtest import run_backtest
from atb.backtest.sharpe import (
    SharpeMoments,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    sharpe_ci,
    sharpe_moments,
    sharpe_standard_error,
)

PHI = NormalDist().cdf
PHI_INV = NormalDist().inv_cdf
EULER_GAMMA = 0.5772156649015329


def _returns(seed: int = 0, n: int = 250) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.001 + 0.01 * rng.standard_t(5, n) + 0.004 * rng.exponential(1, n)  # fat-tailed, skewed


def _moments_by_hand(r: np.ndarray) -> tuple[float, float, float]:
    n = len(r)
    mu = sum(r) / n
    sd = math.sqrt(sum((x - mu) ** 2 for x in r) / (n - 1))
    m2 = sum((x - mu) ** 2 for x in r) / n
    skew = sum((x - mu) ** 3 for x in r) / n / m2**1.5
    kurt = sum((x - mu) ** 4 for x in r) / n / m2**2  # non-excess
    return mu / sd, skew, kurt


def test_moments_and_the_standard_error_follow_mertens_and_opdyke():
    r = _returns()
    sr, skew, kurt = _moments_by_hand(r)
    m = sharpe_moments(r)
    assert (m.sharpe, m.skew, m.kurtosis, m.n) == pytest.approx((sr, skew, kurt, 250), rel=1e-10)
    se = math.sqrt((1 + 0.5 * sr**2 - skew * sr + (kurt - 3) / 4 * sr**2) / 249)
    assert sharpe_standard_error(m) == pytest.approx(se, rel=1e-12)
    low, high = sharpe_ci(m)
    assert (low, high) == pytest.approx((sr - PHI_INV(0.975) * se, sr + PHI_INV(0.975) * se), rel=1e-12)


def test_psr_is_the_papers_formula():
    r = _returns(seed=1)
    sr, skew, kurt = _moments_by_hand(r)
    m = sharpe_moments(r)
    for benchmark in (0.0, 0.05, -0.02):
        expected = PHI((sr - benchmark) * math.sqrt(len(r) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2))
        assert probabilistic_sharpe_ratio(m, benchmark) == pytest.approx(expected, rel=1e-12)
    assert probabilistic_sharpe_ratio(m, m.sharpe) == 0.5  # no evidence either way


def test_dsr_is_psr_against_the_expected_maximum_of_the_trials():
    r = _returns(seed=2)
    sr, skew, kurt = _moments_by_hand(r)
    m = sharpe_moments(r)
    n_trials, var = 20, 0.004
    sr0 = math.sqrt(var) * ((1 - EULER_GAMMA) * PHI_INV(1 - 1 / n_trials)
                            + EULER_GAMMA * PHI_INV(1 - 1 / (n_trials * math.e)))
    assert expected_max_sharpe(n_trials, var) == pytest.approx(sr0, rel=1e-12)
    expected = PHI((sr - sr0) * math.sqrt(len(r) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2))
    assert deflated_sharpe_ratio(m, n_trials, var) == pytest.approx(expected, rel=1e-12)
    # More trials raise the bar; one trial is no deflation at all
    psr0 = probabilistic_sharpe_ratio(m, 0.0)
    dsrs = [deflated_sharpe_ratio(m, k, var) for k in (2, 5, 20, 100, 1000)]
    assert all(d < psr0 for d in dsrs) and dsrs == sorted(dsrs, reverse=True)
    assert deflated_sharpe_ratio(m, 1, var) == psr0


def test_dsr_reproduces_the_numerical_example_of_the_2014_paper():
    # Bailey & Lopez de Prado (2014), "A numerical example": N = 100 trials whose annualised Sharpe ratios have
    # variance 1/2, the best at an annualised 2.5 over T = 1,250 daily returns (250 a year) with skewness -3
    # and kurtosis 10; the paper finds SR0 = 0.1132 (per day) and DSR = 0.9004.
    m = SharpeMoments(sharpe=2.5 / math.sqrt(250), skew=-3.0, kurtosis=10.0, n=1250)
    assert expected_max_sharpe(100, 0.5 / 250) == pytest.approx(0.1132, abs=5e-5)
    assert deflated_sharpe_ratio(m, 100, 0.5 / 250) == pytest.approx(0.9004, abs=5e-5)


def test_the_95_percent_interval_covers_the_true_sharpe_about_95_percent_of_the_time():
    rng = np.random.default_rng(3)
    true_sharpe = 0.1  # per bar: mean 0.001, std 0.01
    covered = 0
    for _ in range(2000):
        low, high = sharpe_ci(sharpe_moments(rng.normal(0.001, 0.01, 200)))
        covered += low <= true_sharpe <= high
    assert 0.93 <= covered / 2000 <= 0.97


def test_run_backtest_reports_psr_and_dsr_with_annualised_trial_variance():
    rng = np.random.default_rng(8)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, 501)))
    last, actual = close[:-1], close[1:]
    hint = np.where(rng.random(500) < 0.6, np.log(actual / last), -np.log(actual / last))  # right 60% of the time
    frame = pd.DataFrame({"target_time": pd.date_range("2024-01-01", periods=500, freq="h", tz="UTC"),
                          "last_close": last, "actual_close": actual, "predicted_close": last * np.exp(hint)})
    res = run_backtest(frame, threshold=0.0, n_trials=30, trial_sharpe_var=4.0)
    m = sharpe_moments(res.strategy.net_returns)
    hold = sharpe_moments(res.buy_and_hold.net_returns).sharpe
    assert res.psr_vs_zero == pytest.approx(probabilistic_sharpe_ratio(m, 0.0), rel=1e-12)
    assert res.psr_vs_buy_and_hold == pytest.approx(probabilistic_sharpe_ratio(m, hold), rel=1e-12)
    # trial_sharpe_var is in annualised units (those of `sharpe`): per bar it is 4 / 8760
    assert res.dsr == pytest.approx(deflated_sharpe_ratio(m, 30, 4.0 / 8760), rel=1e-12)
    assert res.dsr < res.psr_vs_zero
    assert res.to_dict()["n_trials"] == 30
