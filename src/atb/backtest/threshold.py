"""The no-trade threshold: chosen on the validation bars only, then frozen for test.

The grid is THRESHOLD_COST_MULTIPLES x cost (0, 0.5, 1, 2, 3 and 5 times the cost of one full position
change), in the units of p_t = ln(predicted_close / last_close): a forecast must beat a multiple of the
cost before the strategy trades on it. The chosen threshold has the highest validation Sharpe, ties going
to the smaller threshold. A Sharpe that is undefined because the returns never vary (a threshold so high
that the strategy stays flat) scores 0, the Sharpe of cash: staying out is better than losing.
Without at least 2 validation bars there is no Sharpe to compare, and the threshold is 0 (source "default").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from atb.backtest.bars import Bars
from atb.backtest.metrics import sharpe_ratio
from atb.backtest.positions import forecast_positions
from atb.backtest.simulate import simulate

THRESHOLD_COST_MULTIPLES = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)
MIN_VALIDATION_BARS = 2
SOURCES = ("validation", "flag", "default")


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    source: str  # "validation" | "flag" | "default"
    grid: tuple[tuple[float, float], ...] = ()  # (threshold, validation Sharpe) for each candidate


def threshold_grid(cost: float) -> tuple[float, ...]:
    """Increasing and without repeats (a zero cost leaves only 0)."""
    return tuple(sorted({m * cost for m in THRESHOLD_COST_MULTIPLES}))


def select_threshold(validation: Bars | None, mode: str, cost: float, bars_per_year: float) -> ThresholdChoice:
    """Reads the validation bars and nothing else."""
    if validation is None or len(validation) < MIN_VALIDATION_BARS:
        return ThresholdChoice(0.0, "default")
    grid = []
    for threshold in threshold_grid(cost):
        positions = forecast_positions(validation.predicted_return, mode, threshold)
        grid.append((threshold, sharpe_ratio(simulate(positions, validation.bar_return, cost).net_returns,
                                             bars_per_year)))
    best = max(grid, key=lambda item: (_score(item[1]), -item[0]))  # ties: the smaller threshold
    return ThresholdChoice(best[0], "validation", tuple(grid))


def _score(sharpe: float) -> float:
    return sharpe if math.isfinite(sharpe) else 0.0
