"""Trading metrics of one simulated path (net simple returns r_t after costs, one per bar).

Definitions (bpy: bars per year, n: bars):
- total_return = E_n - 1, with E_t = prod_{s<=t} (1 + r_s)
- annual_return = E_n^(bpy / n) - 1 (geometric)
- annual_volatility = std(r, ddof=1) * sqrt(bpy)
- sharpe = mean(r) / std(r, ddof=1) * sqrt(bpy) (risk-free 0); sharpe_ci95 = the per-bar 95% interval of
  sharpe.py (Mertens/Opdyke standard error) times sqrt(bpy)
- sortino = mean(r) * bpy / (sqrt(mean(min(r, 0)^2)) * sqrt(bpy)): the downside deviation over all bars,
  required return 0 (empyrical's definition)
- max_drawdown = max_t (1 - E_t / max(1, max_{s<=t} E_s)), a positive fraction; the starting equity is a peak
- max_drawdown_bars = the longest run of consecutive bars whose equity is below the running peak (drawdown >
  1e-12, so that a rounding error does not count), whether or not the run ends in a recovery
- calmar = annual_return / max_drawdown
- hit_rate = share of the bars in the market (pos_t != 0) with r_t > 0 (net of the costs paid on that bar)
- profit_factor = sum of the positive r_t / |sum of the negative r_t| over all bars
- n_trades = number of bars with pos_t != pos_{t-1} (pos before the first bar = 0): the entry counts, and a
  flip from long to short is one trade (but |dpos| = 2: it pays the cost twice)
- exposure_pct = 100 * share of bars with pos_t != 0
- turnover = sum |pos_t - pos_{t-1}| / n: the equity traded per bar, on average (x bpy for a year)
- fees_paid = sum |pos_t - pos_{t-1}| * cost: the costs in the same simple-return units as r_t (each is a
  fraction of the equity at the time; the sum is not compounded)

Undefined values are NaN (the result's to_dict turns them into null): a Sharpe or volatility with fewer than
2 bars, a Sharpe of returns that never vary, a Sortino without a losing bar, a Calmar without a drawdown, a
hit rate without a bar in the market, a profit factor without a losing bar (+inf when there are winners).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from atb.backtest.sharpe import sharpe_ci, sharpe_moments
from atb.backtest.simulate import Path

DRAWDOWN_TOLERANCE = 1e-12
NAN = float("nan")


@dataclass(frozen=True)
class TradingMetrics:
    total_return: float
    annual_return: float
    annual_volatility: float
    sharpe: float
    sharpe_ci95: tuple[float, float]
    sortino: float
    max_drawdown: float
    max_drawdown_bars: int
    calmar: float
    hit_rate: float
    profit_factor: float
    n_trades: int
    exposure_pct: float
    turnover: float
    fees_paid: float

    def to_dict(self) -> dict:
        out = asdict(self)
        out["sharpe_ci95"] = list(self.sharpe_ci95)
        return out


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0:
        return NAN if numerator == 0 else math.copysign(math.inf, numerator)
    return numerator / denominator


def annual_return(returns: np.ndarray, bars_per_year: float) -> float:
    if len(returns) == 0:
        return NAN
    return float(np.prod(1 + returns) ** (bars_per_year / len(returns)) - 1)


def annual_volatility(returns: np.ndarray, bars_per_year: float) -> float:
    return float(np.std(returns, ddof=1) * math.sqrt(bars_per_year)) if len(returns) >= 2 else NAN


def sharpe_ratio(returns: np.ndarray, bars_per_year: float) -> float:
    return sharpe_moments(returns).sharpe * math.sqrt(bars_per_year)


def sortino_ratio(returns: np.ndarray, bars_per_year: float) -> float:
    if len(returns) < 2:
        return NAN
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    return NAN if downside == 0 else float(np.mean(returns)) * math.sqrt(bars_per_year) / downside


def max_drawdown(drawdown: np.ndarray) -> float:
    return float(np.max(drawdown)) if len(drawdown) else NAN


def longest_drawdown_bars(drawdown: np.ndarray) -> int:
    longest = run = 0
    for below in np.asarray(drawdown) > DRAWDOWN_TOLERANCE:
        run = run + 1 if below else 0
        longest = max(longest, run)
    return longest


def trading_metrics(path: Path, cost: float, bars_per_year: float) -> TradingMetrics:
    r, pos = path.net_returns, path.positions
    n = len(r)
    in_market = pos != 0
    moments = sharpe_moments(r)
    scale = math.sqrt(bars_per_year)
    low, high = sharpe_ci(moments)
    annual = annual_return(r, bars_per_year)
    worst = max_drawdown(path.drawdown)
    return TradingMetrics(
        total_return=float(path.equity[-1] - 1) if n else NAN,
        annual_return=annual,
        annual_volatility=annual_volatility(r, bars_per_year),
        sharpe=moments.sharpe * scale,
        sharpe_ci95=(low * scale, high * scale),
        sortino=sortino_ratio(r, bars_per_year),
        max_drawdown=worst,
        max_drawdown_bars=longest_drawdown_bars(path.drawdown),
        calmar=annual / worst if worst > 0 else NAN,
        hit_rate=float(np.mean(r[in_market] > 0)) if in_market.any() else NAN,
        profit_factor=_ratio(float(r[r > 0].sum()), float(-r[r < 0].sum())),
        n_trades=int(np.count_nonzero(path.position_changes)),
        exposure_pct=100 * float(np.mean(in_market)) if n else NAN,
        turnover=float(path.position_changes.sum() / n) if n else NAN,
        fees_paid=float(path.position_changes.sum() * cost),
    )
