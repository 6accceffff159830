"""Statistical tests: Diebold-Mariano with the Harvey-Leybourne-Newbold correction, and the binomial
test and Wilson interval for directional accuracy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint


@dataclass(frozen=True)
class DMResult:
    statistic: float  # negative: the first forecast has the smaller loss
    p_value: float  # two-sided
    n: int


def diebold_mariano(errors_a: np.ndarray, errors_b: np.ndarray, horizon: int = 1) -> DMResult:
    """Test equal squared-error loss of two forecasts of the same targets (HLN small-sample form)."""
    d = np.asarray(errors_a, float) ** 2 - np.asarray(errors_b, float) ** 2
    n = len(d)
    if n < 3:
        return DMResult(float("nan"), float("nan"), n)
    d_bar = d.mean()
    centred = d - d_bar
    # Long-run variance from autocovariances up to lag h-1 (an h-step forecast's errors are MA(h-1)).
    gamma = [centred @ centred / n] + [centred[k:] @ centred[:-k] / n for k in range(1, horizon)]
    long_run_var = gamma[0] + 2 * sum(gamma[1:])
    if long_run_var <= 0:
        return DMResult(0.0, 1.0, n)
    dm = d_bar / np.sqrt(long_run_var / n)
    hln = np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = float(dm * hln)
    p_value = float(2 * stats.t.sf(abs(statistic), df=n - 1))
    return DMResult(statistic, p_value, n)


@dataclass(frozen=True)
class DirectionResult:
    accuracy: float  # percent
    ci95: tuple[float, float]  # percent, Wilson interval
    p_value: float  # two-sided binomial test against 50%
    correct: int
    n: int


def directional_accuracy(last_close: np.ndarray, actual: np.ndarray, predicted: np.ndarray) -> DirectionResult:
    """sign(predicted - last) == sign(actual - last), over every window."""
    correct = int((np.sign(predicted - last_close) == np.sign(actual - last_close)).sum())
    n = len(last_close)
    low, high = proportion_confint(correct, n, alpha=0.05, method="wilson")
    p_value = float(stats.binomtest(correct, n, 0.5).pvalue)
    return DirectionResult(100 * correct / n, (100 * float(low), 100 * float(high)), p_value, correct, n)
