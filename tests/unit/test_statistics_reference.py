"""The statistical tests against outside references, to 1e-6.

- Diebold-Mariano with the Harvey-Leybourne-Newbold correction: R's ``forecast::dm.test`` (forecast 8.20,
  Debian package r-cran-forecast), run once on the series below; the R script is kept beside the values.
- Pesaran-Timmermann: a hand-worked example of the formulas of Pesaran & Timmermann (1992), "A simple
  nonparametric test of predictive performance", JBES 10(4), eqs. (2)-(4).
- Wilson interval: Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat. Med.
  17, Table II (four decimals), and the closed form worked by hand to 1e-6.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from atb.evaluation.stats import diebold_mariano, directional_accuracy, pesaran_timmermann

# The R call that produced the reference values (Rscript, forecast 8.20):
#   library(forecast)
#   t <- 1:40
#   a1 <- sin(1.3 * t) + 0.4 * cos(0.7 * t); a2 <- 1.2 * cos(2.1 * t) + 0.3 * sin(0.2 * t)
#   t <- 1:200
#   b1 <- sin(0.9 * t) + 0.5 * sin(0.9 * (t - 1)) + 0.25 * sin(0.9 * (t - 2)); b2 <- 1.3 * cos(1.7 * t + 0.5)
#   p <- function(x) cat(sprintf("%.12f %.12f\n", x$statistic, x$p.value))
#   p(dm.test(a1, a2, alternative="two.sided", h=1, power=2))   # -1.052942208348 0.298847719514
#   p(dm.test(a1, a2, alternative="less", h=1, power=2))        # -1.052942208348 0.149423859757
#   p(dm.test(b1, b2, alternative="two.sided", h=3, power=2))   #  2.197361585266 0.029148790489
#   p(dm.test(b1, b2, alternative="less", h=3, power=2))        #  2.197361585266 0.985425604756
# alternative="less" is H1: method 1 (the first argument) is more accurate, atb's one-sided p-value.


def _series_a() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(1, 41)
    return np.sin(1.3 * t) + 0.4 * np.cos(0.7 * t), 1.2 * np.cos(2.1 * t) + 0.3 * np.sin(0.2 * t)


def _series_b() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(1, 201)
    b1 = np.sin(0.9 * t) + 0.5 * np.sin(0.9 * (t - 1)) + 0.25 * np.sin(0.9 * (t - 2))
    return b1, 1.3 * np.cos(1.7 * t + 0.5)


@pytest.mark.parametrize(("series", "horizon", "statistic", "p_two_sided", "p_less"), [
    (_series_a, 1, -1.052942208348, 0.298847719514, 0.149423859757),
    (_series_b, 3, 2.197361585266, 0.029148790489, 0.985425604756),
])
def test_diebold_mariano_matches_r_forecast_dm_test(series, horizon, statistic, p_two_sided, p_less):
    e1, e2 = series()
    result = diebold_mariano(e1, e2, horizon)
    assert result.statistic == pytest.approx(statistic, abs=1e-6)
    assert result.p_value == pytest.approx(p_two_sided, abs=1e-6)
    assert result.p_value_one_sided == pytest.approx(p_less, abs=1e-6)


def test_one_sided_dm_is_in_the_claimed_direction():
    """A forecast with clearly larger errors is never 'significantly better' one-sided."""
    rng = np.random.default_rng(3)
    worse, better = rng.normal(0, 2.0, 300), rng.normal(0, 1.0, 300)
    result = diebold_mariano(worse, better)
    assert result.p_value < 0.001  # two-sided: "they differ"
    assert result.p_value_one_sided > 0.999  # H1 "the first is better": no evidence at all


# Pesaran-Timmermann, worked by hand. Ten scored moves:
#   forecast up  x = 1 1 1 0 0 1 0 1 1 0   -> P_x = 6/10 = 0.6
#   actual up    y = 1 0 1 0 1 1 0 1 0 0   -> P_y = 5/10 = 0.5
#   hits: 7 of 10                          -> P   = 0.7
#   P*      = P_y P_x + (1 - P_y)(1 - P_x) = 0.3 + 0.2 = 0.5
#   V(P)    = P*(1 - P*)/n = 0.25/10 = 0.025
#   V(P*)   = (2P_y - 1)^2 P_x(1 - P_x)/n + (2P_x - 1)^2 P_y(1 - P_y)/n + 4 P_y P_x (1 - P_y)(1 - P_x)/n^2
#           = 0 + 0.04 * 0.25/10 + 4 * 0.06/100 = 0.001 + 0.0024 = 0.0034
#   PT      = (P - P*) / sqrt(V(P) - V(P*)) = 0.2 / sqrt(0.0216) = 1.3608276348795434
#   p       = 1 - Phi(PT) = 0.0867840832779608 (one-sided: H1 better timing than chance)
PT_X = np.array([1, 1, 1, 0, 0, 1, 0, 1, 1, 0], bool)
PT_Y = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 0], bool)


def test_pesaran_timmermann_hand_worked_example():
    result = pesaran_timmermann(PT_X, PT_Y)
    assert result.statistic == pytest.approx(0.2 / math.sqrt(0.0216), abs=1e-6)
    assert result.statistic == pytest.approx(1.3608276348795434, abs=1e-6)
    assert result.p_value == pytest.approx(0.0867840832779608, abs=1e-6)
    assert result.n == 10


def test_pesaran_timmermann_through_directional_accuracy_with_flat_moves_left_out():
    last = np.full(12, 100.0)
    actual = np.r_[np.where(PT_Y, 101.0, 99.0), 100.0, 100.0]  # two flat moves: no direction to call
    predicted = np.r_[np.where(PT_X, 100.5, 99.5), 100.5, 99.5]
    result = directional_accuracy(last, actual, predicted)
    assert (result.n, result.excluded, result.correct) == (10, 2, 7)
    assert result.accuracy == pytest.approx(70.0)
    assert result.pt.statistic == pytest.approx(1.3608276348795434, abs=1e-6)
    assert (result.predicted_up_pct, result.actual_up_pct) == (pytest.approx(60.0), pytest.approx(50.0))


def test_always_up_scores_the_base_rate_and_no_timing_skill():
    """The defect this replaces: 'always up' in a rising market looked like skill against 50%."""
    rng = np.random.default_rng(5)
    last = 100 + rng.normal(0, 1, 400).cumsum()
    up = rng.random(400) < 0.6
    actual = np.where(up, last + 1, last - 1)
    always_up = last + 0.1
    result = directional_accuracy(last, actual, always_up)
    assert result.accuracy == pytest.approx(100 * up.mean())
    assert result.p_value < 0.001  # the binomial test against 50% is fooled ...
    assert math.isnan(result.pt.p_value)  # ... the market-timing test has nothing to test: a constant call


Z = 1.959963984540054  # the standard normal's 97.5% quantile


def _wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n", "newcombe"), [
    (81, 263, (0.2553, 0.3662)), (15, 148, (0.0624, 0.1605)), (0, 20, (0.0, 0.1611)), (1, 29, (0.0061, 0.1718)),
])
def test_wilson_interval_matches_newcombe_and_the_closed_form(k, n, newcombe):
    last = np.zeros(n)
    actual = np.ones(n)  # every move is up
    predicted = np.r_[np.ones(k), -np.ones(n - k)]  # k up calls: k hits
    low, high = directional_accuracy(last, actual, predicted).ci95
    by_hand = _wilson_by_hand(k, n)
    assert low / 100 == pytest.approx(max(0.0, by_hand[0]), abs=1e-6)
    assert high / 100 == pytest.approx(by_hand[1], abs=1e-6)
    assert (low / 100, high / 100) == (pytest.approx(newcombe[0], abs=5e-5), pytest.approx(newcombe[1], abs=5e-5))


def test_norm_quantile_used_by_hand_is_the_95_percent_one():
    assert stats.norm.ppf(0.975) == pytest.approx(Z, abs=1e-12)
