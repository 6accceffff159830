"""Net returns, equity and drawdown of a sequence of positions.

r_t = pos_t * (actual_close_t / last_close_t - 1) - |pos_t - pos_{t-1}| * cost, with pos_{-1} = 0.

The rows are taken in order. Target times need not be consecutive candles (gaps in the data): a position
held across a gap is simply carried, at no cost, and the bar after the gap earns only its own candle's
return (last_close is the close just before its target, not the previous row's actual_close). Nothing is
closed at the end: the last position is marked to market, so buy-and-hold pays one entry cost and no exit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Path:
    positions: np.ndarray  # pos_t
    net_returns: np.ndarray  # r_t, simple returns after costs
    equity: np.ndarray  # E_t = prod_{s<=t} (1 + r_s), starting from E = 1 before the first bar
    drawdown: np.ndarray  # 1 - E_t / max(1, max_{s<=t} E_s): the starting equity counts as a peak
    position_changes: np.ndarray  # |pos_t - pos_{t-1}|


def position_changes(positions: np.ndarray) -> np.ndarray:
    return np.abs(np.diff(np.asarray(positions, float), prepend=0.0))


def drawdown(equity: np.ndarray) -> np.ndarray:
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    return 1 - equity / peak


def simulate(positions: np.ndarray, bar_returns: np.ndarray, cost: float) -> Path:
    positions = np.asarray(positions, float)
    changes = position_changes(positions)
    net = positions * np.asarray(bar_returns, float) - changes * cost
    equity = np.cumprod(1 + net)
    return Path(positions, net, equity, drawdown(equity), changes)
