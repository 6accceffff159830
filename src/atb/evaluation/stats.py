"""Statistical tests: Diebold-Mariano with the Harvey-Leybourne-Newbold correction, the Pesaran-Timmermann
market-timing test, and the Wilson interval and binomial test for directional accuracy."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class DMResult:
    statistic: float  # negative: the first forecast has the smaller loss
    p_value: float  # two-sided: H1 the two losses differ
    n: int

    @property
    def p_value_one_sided(self) -> float:
        """H1: the first forecast's loss is lower (the direction in which "better" is claimed)."""
        if not math.isfinite(self.statistic):
            return float("nan")
        return float(stats.t.cdf(self.statistic, df=self.n - 1)) if self.n > 1 else float("nan")

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "p_value": self.p_value, "p_value_one_sided": self.p_value_one_sided}


def diebold_mariano(errors_a: np.ndarray, errors_b: np.ndarray, horizon: int = 1) -> DMResult:
    """Test equal squared-error loss of two forecasts of the same targets (HLN small-sample form)."""
    return diebold_mariano_losses(np.asarray(errors_a, float) ** 2, np.asarray(errors_b, float) ** 2, horizon)


def diebold_mariano_losses(loss_a: np.ndarray, loss_b: np.ndarray, horizon: int = 1) -> DMResult:
    """The DM test on given per-target losses (e.g. squared errors already averaged over seeds)."""
    d = np.asarray(loss_a, float) - np.asarray(loss_b, float)
    n = len(d)
    if n < 3:
        return DMResult(float("nan"), float("nan"), n)
    d_bar = d.mean()
    centred = d - d_bar
    # Long-run variance from autocovariances up to lag h-1 (an h-step forecast's errors are MA(h-1)).
    gamma = [centred @ centred / n] + [centred[k:] @ centred[:-k] / n for k in range(1, horizon)]
    long_run_var = gamma[0] + 2 * sum(gamma[1:])
    if long_run_var <= 0 and horizon > 1:  # the truncated estimate can turn negative: as R's dm.test, use h=1
        return diebold_mariano_losses(loss_a, loss_b, 1)
    if long_run_var <= 0:  # identical losses: no difference to test
        return DMResult(0.0, 1.0, n)
    dm = d_bar / np.sqrt(long_run_var / n)
    hln = np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = float(dm * hln)
    p_value = float(2 * stats.t.sf(abs(statistic), df=n - 1))
    return DMResult(statistic, p_value, n)


@dataclass(frozen=True)
class PTResult:
    statistic: float  # standard normal under H0 (forecast signs independent of the actual signs)
    p_value: float  # one-sided, H1: the forecast times the market better than chance (statistic > 0)
    n: int


def pesaran_timmermann(predicted_up: np.ndarray, actual_up: np.ndarray) -> PTResult:
    """Pesaran & Timmermann (1992): is the share of correct signs above what the forecast's and the market's
    own up-rates give by chance? Undefined (NaN) when either side never changes sign."""
    x = np.asarray(predicted_up, bool)
    y = np.asarray(actual_up, bool)
    n = len(x)
    if n < 2:
        return PTResult(float("nan"), float("nan"), n)
    p_hat = float(np.mean(x == y))
    px, py = float(x.mean()), float(y.mean())
    p_star = py * px + (1 - py) * (1 - px)  # expected hit rate if the signs were independent
    var_p = p_star * (1 - p_star) / n
    var_p_star = ((2 * py - 1) ** 2 * px * (1 - px) / n + (2 * px - 1) ** 2 * py * (1 - py) / n
                  + 4 * py * px * (1 - py) * (1 - px) / n**2)
    variance = var_p - var_p_star
    if not variance > 1e-15:  # a constant forecast (or market): no timing information either way
        return PTResult(float("nan"), float("nan"), n)
    statistic = (p_hat - p_star) / math.sqrt(variance)
    return PTResult(float(statistic), float(stats.norm.sf(statistic)), n)


@dataclass(frozen=True)
class DirectionResult:
    accuracy: float  # percent of the scored moves
    ci95: tuple[float, float]  # percent, Wilson interval
    p_value: float  # two-sided binomial test against 50% (kept for continuity; decisions use the PT test)
    correct: int
    n: int  # scored moves: actual close != last close
    excluded: int  # moves with actual close == last close: no direction to get right or wrong
    pt: PTResult
    predicted_up_pct: float  # base rates over the same scored moves
    actual_up_pct: float


def directional_accuracy(last_close: np.ndarray, actual: np.ndarray, predicted: np.ndarray) -> DirectionResult:
    """Up/down calls against up/down moves, over the moves that have a direction (actual != last close).

    The call is "up" when the predicted close is above the last close, else "down" (a forecast of exactly no
    change is a down call, as a long/flat trader would act on it)."""
    last_close, actual, predicted = (np.asarray(a, float) for a in (last_close, actual, predicted))
    moved = actual != last_close
    actual_up = actual[moved] > last_close[moved]
    predicted_up = predicted[moved] > last_close[moved]
    n = int(moved.sum())
    correct = int((actual_up == predicted_up).sum())
    excluded = len(actual) - n
    if n == 0:
        nan = float("nan")
        return DirectionResult(nan, (nan, nan), nan, 0, 0, excluded, PTResult(nan, nan, 0), nan, nan)
    binomial = stats.binomtest(correct, n, 0.5)
    low, high = binomial.proportion_ci(0.95, method="wilson")
    p_value = float(binomial.pvalue)
    return DirectionResult(
        100 * correct / n, (100 * float(low), 100 * float(high)), p_value, correct, n, excluded,
        pesaran_timmermann(predicted_up, actual_up), float(100 * predicted_up.mean()), float(100 * actual_up.mean()),
    )
