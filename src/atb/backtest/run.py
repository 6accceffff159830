"""run_backtest: the protocol from a predictions table to the result (see the package docstring)."""

from __future__ import annotations

import math

import pandas as pd

from atb.backtest.bars import Bars, bars_from_frame
from atb.backtest.costs import DEFAULT_FEE_BPS, DEFAULT_SLIPPAGE_BPS, bars_per_year, cost_per_unit
from atb.backtest.metrics import trading_metrics
from atb.backtest.positions import (
    buy_and_hold_positions,
    cash_positions,
    check_mode,
    forecast_positions,
    momentum_positions,
)
from atb.backtest.protocol import SUPPORTED_HORIZON
from atb.backtest.result import BacktestResult, StrategyResult
from atb.backtest.sharpe import deflated_sharpe_ratio, probabilistic_sharpe_ratio, sharpe_moments
from atb.backtest.simulate import simulate
from atb.backtest.threshold import ThresholdChoice, select_threshold
from atb.errors import AtbError, DataError, UsageError

SKIPPED = "skipped"  # metadata.json's backtest: {"skipped": why} when a training run could not run one


def run_backtest(test: pd.DataFrame, validation: pd.DataFrame | None = None, *, horizon: int = 1,
                 timeframe: str = "1h", mode: str = "long_flat", fee_bps: float = DEFAULT_FEE_BPS,
                 slippage_bps: float = DEFAULT_SLIPPAGE_BPS, threshold: float | None = None,
                 n_trials: int | None = None, trial_sharpe_var: float | None = None) -> BacktestResult:
    """Backtest the test predictions; the threshold comes from ``threshold`` (source "flag"), else from the
    validation predictions (source "validation"), else 0 (source "default"). The threshold is chosen before
    the test rows are read at all.

    ``n_trials`` and ``trial_sharpe_var`` (both or neither) give the Deflated Sharpe Ratio: the number of
    configurations tried and the variance of their Sharpe ratios, in the annualised units of ``sharpe``
    (converted to per-bar units by dividing by bars_per_year, like every Sharpe in the PSR/DSR formulas).
    """
    check_horizon(horizon)
    check_mode(mode)
    cost = cost_per_unit(fee_bps, slippage_bps)
    bpy = bars_per_year(timeframe)
    _check_trials(n_trials, trial_sharpe_var)
    val = None if validation is None or len(validation) == 0 else bars_from_frame(validation, "validation")
    choice = _choose_threshold(threshold, val, mode, cost, bpy)

    bars = bars_from_frame(test, "test")
    if len(bars) == 0:
        raise DataError("test predictions are empty: no bar to backtest")
    if val is not None and val.target_time[-1] >= bars.target_time[0]:
        raise DataError(f"validation bars must all precede the test bars (validation ends {val.target_time[-1]}, "
                        f"test starts {bars.target_time[0]})")
    runs = {
        "strategy": forecast_positions(bars.predicted_return, mode, choice.threshold),
        "buy_and_hold": buy_and_hold_positions(len(bars)),
        "momentum": momentum_positions(bars.last_close, mode),
        "cash": cash_positions(len(bars)),
    }
    results = {name: _run(pos, bars, cost, bpy) for name, pos in runs.items()}

    moments = sharpe_moments(results["strategy"].net_returns)
    hold_sharpe = sharpe_moments(results["buy_and_hold"].net_returns).sharpe
    dsr = None if n_trials is None else deflated_sharpe_ratio(moments, n_trials, trial_sharpe_var / bpy)
    return BacktestResult(
        mode=mode, fee_bps=float(fee_bps), slippage_bps=float(slippage_bps), threshold=choice.threshold,
        threshold_source=choice.source, bars_per_year=bpy, n_bars=len(bars), **results,
        psr_vs_zero=probabilistic_sharpe_ratio(moments, 0.0),
        psr_vs_buy_and_hold=probabilistic_sharpe_ratio(moments, hold_sharpe),
        dsr=dsr, n_trials=n_trials, target_time=bars.target_time, threshold_grid=choice.grid,
    )


def check_horizon(horizon: int) -> None:
    if horizon != SUPPORTED_HORIZON:
        raise UsageError(f"the backtest supports horizon 1 only (got {horizon}): a position lasts one bar, "
                         f"so a {horizon}-bar forecast has no bar-by-bar trade to score")


def training_backtest(test: pd.DataFrame, validation: pd.DataFrame | None, *, horizon: int,
                      timeframe: str, n_trials: int | None = None, trial_sharpe_var: float | None = None) -> dict:
    """What a training run writes under metadata.json's ``backtest``: the default protocol (long_flat, default
    fee and slippage, threshold from the validation predictions) as ``BacktestResult.to_dict()``; or
    ``{"skipped": why}`` when there is none to run (a horizon other than 1, unusable predictions), so that the
    backtest never costs a training run its result."""
    try:
        return run_backtest(test, validation, horizon=horizon, timeframe=timeframe, n_trials=n_trials,
                            trial_sharpe_var=trial_sharpe_var).to_dict()
    except AtbError as exc:
        return {SKIPPED: str(exc)}


def _choose_threshold(threshold: float | None, validation: Bars | None, mode: str, cost: float,
                      bpy: float) -> ThresholdChoice:
    if threshold is not None:
        if not (math.isfinite(threshold) and threshold >= 0):
            raise UsageError(f"the threshold must be a finite number >= 0 (got {threshold})")
        return ThresholdChoice(float(threshold), "flag")
    return select_threshold(validation, mode, cost, bpy)


def _check_trials(n_trials: int | None, trial_sharpe_var: float | None) -> None:
    if (n_trials is None) != (trial_sharpe_var is None):
        raise UsageError("the deflated Sharpe needs both n_trials and trial_sharpe_var (or neither)")
    if n_trials is not None and not (n_trials >= 1 and math.isfinite(trial_sharpe_var) and trial_sharpe_var >= 0):
        raise UsageError(f"n_trials must be >= 1 and trial_sharpe_var >= 0 (got {n_trials}, {trial_sharpe_var})")


def _run(positions, bars: Bars, cost: float, bpy: float) -> StrategyResult:
    path = simulate(positions, bars.bar_return, cost)
    return StrategyResult(trading_metrics(path, cost, bpy), path)
