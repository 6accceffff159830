"""The typed result of a backtest; ``to_dict()`` is what goes into metadata.json (strict JSON: NaN and
infinities become null). The per-bar arrays stay on the object, for plots."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from atb.backtest.metrics import TradingMetrics
from atb.backtest.simulate import Path

STRATEGIES = ("strategy", "buy_and_hold", "momentum", "cash")


@dataclass(frozen=True)
class StrategyResult:
    metrics: TradingMetrics
    path: Path  # positions, net_returns, equity, drawdown: one value per bar

    @property
    def positions(self) -> np.ndarray:
        return self.path.positions

    @property
    def net_returns(self) -> np.ndarray:
        return self.path.net_returns

    @property
    def equity(self) -> np.ndarray:
        return self.path.equity

    @property
    def drawdown(self) -> np.ndarray:
        return self.path.drawdown


@dataclass(frozen=True)
class BacktestResult:
    mode: str
    fee_bps: float
    slippage_bps: float
    threshold: float
    threshold_source: str  # "validation" | "flag" | "default"
    bars_per_year: float
    n_bars: int
    strategy: StrategyResult
    buy_and_hold: StrategyResult
    momentum: StrategyResult
    cash: StrategyResult
    psr_vs_zero: float
    psr_vs_buy_and_hold: float
    dsr: float | None  # None without n_trials
    n_trials: int | None
    target_time: pd.DatetimeIndex  # the test bars' target times (UTC), for plots
    threshold_grid: tuple[tuple[float, float], ...] = ()  # (threshold, validation Sharpe), empty unless chosen

    def to_dict(self) -> dict:
        out = {
            "mode": self.mode,
            "fee_bps": self.fee_bps,
            "slippage_bps": self.slippage_bps,
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "bars_per_year": self.bars_per_year,
            "n_bars": self.n_bars,
            **{name: getattr(self, name).metrics.to_dict() for name in STRATEGIES},
            "psr_vs_zero": self.psr_vs_zero,
            "psr_vs_buy_and_hold": self.psr_vs_buy_and_hold,
            "dsr": self.dsr,
            "n_trials": self.n_trials,
            "threshold_grid": [list(pair) for pair in self.threshold_grid],  # [threshold, validation Sharpe]
        }
        return strict_json(out)


def strict_json(value):
    """Plain Python values with NaN/inf as None (numpy scalars become int/float)."""
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
