"""Backtest of a price forecaster from its predictions table (numpy, recomputable by hand).

The protocol (horizon 1 only):
- one bar per scored target time t: last_close (close of the candle before t), actual_close (close of t),
  and the forecast p_t = ln(predicted_close / last_close), made at the close of the candle before t;
- the position for bar t comes from p_t only (positions.py); long_flat: 1 if p_t > threshold else 0;
  long_short: +1 above the threshold, -1 below -threshold, 0 in the band |p_t| <= threshold;
- net simple return r_t = pos_t * (actual_close / last_close - 1) - |pos_t - pos_{t-1}| * cost, with
  cost = (fee_bps + slippage_bps) / 10,000 and pos = 0 before the first bar (simulate.py);
- the threshold is chosen on the validation bars and frozen for test (threshold.py);
- benchmarks on the same test bars with the same costs: buy-and-hold, naive momentum, cash;
- metrics (metrics.py) with a Sharpe interval, PSR and, given the trials, the Deflated Sharpe (sharpe.py).

The names load on first use (numpy, pandas and scipy take about a second), so that the CLI's help can read
the settings in protocol.py for nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atb.backtest.bars import Bars, bars_from_frame
    from atb.backtest.costs import bars_per_year, cost_per_unit
    from atb.backtest.metrics import TradingMetrics, trading_metrics
    from atb.backtest.positions import check_mode
    from atb.backtest.result import BacktestResult, StrategyResult
    from atb.backtest.run import SKIPPED, check_horizon, run_backtest, training_backtest
    from atb.backtest.threshold import THRESHOLD_COST_MULTIPLES, ThresholdChoice, select_threshold

from atb.backtest.protocol import DEFAULT_FEE_BPS, DEFAULT_MODE, DEFAULT_SLIPPAGE_BPS, MODES, SUPPORTED_HORIZON

_HOMES = {
    "Bars": "bars", "bars_from_frame": "bars",
    "bars_per_year": "costs", "cost_per_unit": "costs",
    "TradingMetrics": "metrics", "trading_metrics": "metrics",
    "check_mode": "positions",
    "BacktestResult": "result", "StrategyResult": "result",
    "SKIPPED": "run", "check_horizon": "run", "run_backtest": "run", "training_backtest": "run",
    "THRESHOLD_COST_MULTIPLES": "threshold", "ThresholdChoice": "threshold", "select_threshold": "threshold",
}
__all__ = [
    "DEFAULT_FEE_BPS", "DEFAULT_MODE", "DEFAULT_SLIPPAGE_BPS", "MODES", "SKIPPED", "SUPPORTED_HORIZON",
    "THRESHOLD_COST_MULTIPLES", "BacktestResult", "Bars", "StrategyResult", "ThresholdChoice", "TradingMetrics",
    "bars_from_frame", "bars_per_year", "check_horizon", "check_mode", "cost_per_unit", "run_backtest",
    "select_threshold", "trading_metrics", "training_backtest",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'atb.backtest' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"atb.backtest.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
