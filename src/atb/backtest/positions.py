"""Positions (+1 long, 0 flat, -1 short) for each bar, decided from what is known at the close of the bar before.

Modes: ``long_flat`` (long or flat) and ``long_short`` (long, short, or flat inside the no-trade band).
"""

from __future__ import annotations

import numpy as np

from atb.backtest.protocol import MODES
from atb.errors import UsageError


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise UsageError(f"unknown backtest mode {mode!r}; use one of: {', '.join(MODES)}")
    return mode


def _signal(score: np.ndarray, mode: str, threshold: float) -> np.ndarray:
    """+1 above the threshold; -1 below -threshold in long_short mode; 0 otherwise (the band is flat)."""
    pos = np.where(score > threshold, 1.0, 0.0)
    if check_mode(mode) == "long_short":
        pos = np.where(score < -threshold, -1.0, pos)
    return pos


def forecast_positions(predicted_return: np.ndarray, mode: str, threshold: float) -> np.ndarray:
    """The model's strategy: pos_t from p_t = ln(predicted_close_t / last_close_t) only."""
    return _signal(np.asarray(predicted_return, float), mode, threshold)


def buy_and_hold_positions(n: int) -> np.ndarray:
    """Long on every bar (in both modes): one entry, no exit."""
    return np.ones(n)


def cash_positions(n: int) -> np.ndarray:
    return np.zeros(n)


def momentum_positions(last_close: np.ndarray, mode: str) -> np.ndarray:
    """Naive momentum: follow the last bar's return m_t = last_close_t / last_close_{t-1} - 1, known at the close
    of t-1. Long if m_t > 0; in long_short mode short if m_t < 0 (the same mode as the strategy, so the two
    are compared like for like); flat otherwise. The first bar has no previous bar: m = 0, flat."""
    last_close = np.asarray(last_close, float)
    momentum = np.zeros(len(last_close))
    momentum[1:] = last_close[1:] / last_close[:-1] - 1
    return _signal(momentum, mode, 0.0)
