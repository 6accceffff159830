"""Inference on a Sharpe ratio: its standard error and 95% interval, the Probabilistic Sharpe Ratio and the
Deflated Sharpe Ratio. Everything here is in per-bar units (mean / std of one bar's returns, not annualised);
callers annualise an interval by multiplying by sqrt(bars per year).

- Standard error: Mertens (2002), as extended by Opdyke (2007), for non-normal i.i.d. returns:
  se(SR) = sqrt((1 + SR^2/2 - skew * SR + (kurt - 3)/4 * SR^2) / (n - 1)).
- PSR: Bailey & Lopez de Prado (2012), "The Sharpe ratio efficient frontier", J. of Risk 15(2), eq. (8):
  PSR(SR*) = Phi((SR - SR*) * sqrt(n - 1) / sqrt(1 - skew * SR + (kurt - 1)/4 * SR^2)), the same variance.
- DSR: Bailey & Lopez de Prado (2014), "The deflated Sharpe ratio", J. of Portfolio Management 40(5):
  PSR against SR0 = sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e))), the Sharpe ratio that
  the best of N independent trials with zero true Sharpe is expected to reach (g: Euler-Mascheroni constant,
  V: the variance of the N trials' Sharpe ratios, per bar).

skew is the sample skewness and kurt the (non-excess) kurtosis, both with population moments (bias=True),
as in the papers; SR itself uses the ddof=1 standard deviation, like the reported Sharpe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

EULER_GAMMA = 0.5772156649015329
CI_LEVEL = 0.95


@dataclass(frozen=True)
class SharpeMoments:
    sharpe: float  # per bar; NaN with fewer than 2 bars or returns that never vary
    skew: float
    kurtosis: float  # non-excess: 3 for normal returns
    n: int


def sharpe_moments(returns: np.ndarray) -> SharpeMoments:
    r = np.asarray(returns, float)
    n = len(r)
    std = float(np.std(r, ddof=1)) if n >= 2 else 0.0
    if not std > 0:
        return SharpeMoments(float("nan"), float("nan"), float("nan"), n)
    return SharpeMoments(float(np.mean(r)) / std, float(stats.skew(r, bias=True)),
                         float(stats.kurtosis(r, fisher=False, bias=True)), n)


def _sharpe_variance_term(m: SharpeMoments) -> float:
    """1 - skew*SR + (kurt-1)/4 * SR^2 (= 1 + SR^2/2 - skew*SR + (kurt-3)/4 * SR^2); >= 0 with population
    moments since kurt >= 1 + skew^2 makes it >= (1 - skew*SR/2)^2."""
    return max(0.0, 1 - m.skew * m.sharpe + (m.kurtosis - 1) / 4 * m.sharpe**2)


def sharpe_standard_error(m: SharpeMoments) -> float:
    if m.n < 2 or not math.isfinite(m.sharpe):
        return float("nan")
    return math.sqrt(_sharpe_variance_term(m) / (m.n - 1))


def sharpe_ci(m: SharpeMoments, level: float = CI_LEVEL) -> tuple[float, float]:
    """Normal interval SR +- z * se, per bar."""
    z = float(stats.norm.ppf(0.5 + level / 2))
    se = sharpe_standard_error(m)
    return m.sharpe - z * se, m.sharpe + z * se


def probabilistic_sharpe_ratio(m: SharpeMoments, benchmark_sharpe: float) -> float:
    """P(true Sharpe > benchmark_sharpe) given the observed one; both per bar."""
    if m.n < 2 or not (math.isfinite(m.sharpe) and math.isfinite(benchmark_sharpe)):
        return float("nan")
    spread = math.sqrt(_sharpe_variance_term(m))
    diff = m.sharpe - benchmark_sharpe
    if spread == 0:  # degenerate distribution: the observed Sharpe is certain
        return 1.0 if diff > 0 else 0.0 if diff < 0 else 0.5
    return float(stats.norm.cdf(diff * math.sqrt(m.n - 1) / spread))


def expected_max_sharpe(n_trials: int, trial_sharpe_var: float) -> float:
    """SR0: the expected best Sharpe (per bar) of n_trials unskilled trials. A single trial needs no
    deflation: SR0 = 0 (the formula's Phi^-1(0) is -inf)."""
    if n_trials <= 1:
        return 0.0
    quantile = stats.norm.ppf
    return math.sqrt(trial_sharpe_var) * ((1 - EULER_GAMMA) * float(quantile(1 - 1 / n_trials))
                                          + EULER_GAMMA * float(quantile(1 - 1 / (n_trials * math.e))))


def deflated_sharpe_ratio(m: SharpeMoments, n_trials: int, trial_sharpe_var: float) -> float:
    """PSR against SR0; ``trial_sharpe_var`` is the variance of the trials' per-bar Sharpe ratios."""
    return probabilistic_sharpe_ratio(m, expected_max_sharpe(n_trials, trial_sharpe_var))
