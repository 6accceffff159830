"""Backtest metrics: against empyrical (empyrical-reloaded 0.7.1) on random returns, and every figure of a
5-bar table worked by hand."""

from __future__ import annotations

import json
import math
import statistics

import empyrical
import numpy as np
import pandas as pd
import pytest

from atb.backtest import run_backtest, trading_metrics
from atb.backtest.simulate import simulate

HOURS_PER_YEAR = 8760  # 1h bars, 365 days


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_sharpe_sortino_drawdown_and_annual_return_match_empyrical(seed):
    rng = np.random.default_rng(seed)
    n = 500
    bar_returns = rng.standard_t(4, n) * 0.01 + 0.0002  # fat tails, as in crypto
    positions = rng.choice([-1.0, 0.0, 1.0], n)
    path = simulate(positions, bar_returns, cost=0.0012)
    r = path.net_returns
    m = trading_metrics(path, 0.0012, HOURS_PER_YEAR)
    kw = {"annualization": HOURS_PER_YEAR}
    assert m.sharpe == pytest.approx(empyrical.sharpe_ratio(r, **kw), rel=1e-9, abs=1e-9)
    assert m.sortino == pytest.approx(empyrical.sortino_ratio(r, **kw), rel=1e-9, abs=1e-9)
    assert m.max_drawdown == pytest.approx(-empyrical.max_drawdown(r), rel=1e-9, abs=1e-9)
    assert m.annual_return == pytest.approx(empyrical.annual_return(r, **kw), rel=1e-9, abs=1e-9)
    assert m.annual_volatility == pytest.approx(empyrical.annual_volatility(r, **kw), rel=1e-9, abs=1e-9)
    assert m.calmar == pytest.approx(empyrical.calmar_ratio(r, **kw), rel=1e-9, abs=1e-9)
    assert m.total_return == pytest.approx(empyrical.cum_returns_final(r), rel=1e-9, abs=1e-12)
    # The per-bar drawdown path too (empyrical's is negative)
    np.testing.assert_allclose(path.drawdown, -empyrical.stats.drawdown_series(r), rtol=0, atol=1e-12)


def _frame(last, actual, predicted) -> pd.DataFrame:
    return pd.DataFrame({"target_time": pd.date_range("2024-01-01 01:00", periods=len(last), freq="h", tz="UTC"),
                         "last_close": last, "actual_close": actual, "predicted_close": predicted})


# The table: consecutive 1h bars (actual_close of one bar is last_close of the next).
#   bar  last  actual  predicted  p_t = ln(pred/last)  bar return a_t = actual/last - 1
#    0   100    102      101        > 0                 +0.02
#    1   102    101      103        > 0                 101/102 - 1 = -0.0098039...
#    2   101    103      100        < 0                 103/101 - 1 = +0.0198019...
#    3   103    103      104        > 0                  0
#    4   103    100      102        < 0                 100/103 - 1 = -0.0291262...
# long_flat, threshold 0 (flag): pos = 1, 1, 0, 1, 0; |dpos| = 1, 0, 1, 1, 1; cost = (10 + 2) / 10,000 = 0.0012
#   r_t = pos_t * a_t - |dpos_t| * cost = 0.02 - c, 101/102 - 1, -c, -c, -c
LAST = [100.0, 102.0, 101.0, 103.0, 103.0]
ACTUAL = [102.0, 101.0, 103.0, 103.0, 100.0]
PREDICTED = [101.0, 103.0, 100.0, 104.0, 102.0]
C = 0.0012


def _population_skew_kurt(r: list[float]) -> tuple[float, float]:
    mu = sum(r) / len(r)
    m2 = sum((x - mu) ** 2 for x in r) / len(r)
    m3 = sum((x - mu) ** 3 for x in r) / len(r)
    m4 = sum((x - mu) ** 4 for x in r) / len(r)
    return m3 / m2**1.5, m4 / m2**2


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def test_every_figure_of_a_five_bar_table_recomputes_by_hand():
    res = run_backtest(_frame(LAST, ACTUAL, PREDICTED), threshold=0.0)
    assert (res.threshold, res.threshold_source, res.n_bars, res.bars_per_year) == (0.0, "flag", 5, 8760)
    r = [0.02 - C, 101 / 102 - 1, -C, -C, -C]
    s = res.strategy
    assert s.positions.tolist() == [1, 1, 0, 1, 0]
    np.testing.assert_allclose(s.net_returns, r, rtol=0, atol=1e-15)
    # Equity E_t = prod(1 + r): 1.0188, then x 101/102, then x (1 - c) three times
    equity = [1.0188, 1.0188 * 101 / 102, 1.0188 * 101 / 102 * (1 - C), 1.0188 * 101 / 102 * (1 - C) ** 2,
              1.0188 * 101 / 102 * (1 - C) ** 3]
    np.testing.assert_allclose(s.equity, equity, rtol=1e-14)
    m = s.metrics
    assert m.total_return == pytest.approx(equity[-1] - 1, rel=1e-12)
    assert m.total_return == pytest.approx(0.0051843987, abs=1e-10)
    assert m.annual_return == pytest.approx(equity[-1] ** (8760 / 5) - 1, rel=1e-9)
    mean, sd = statistics.fmean(r), statistics.stdev(r)  # stdev: ddof = 1
    assert m.annual_volatility == pytest.approx(sd * math.sqrt(8760), rel=1e-12)
    assert m.sharpe == pytest.approx(mean / sd * math.sqrt(8760), rel=1e-12)
    # Sortino: downside deviation over all 5 bars, required return 0
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / 5)
    assert m.sortino == pytest.approx(mean * math.sqrt(8760) / downside, rel=1e-12)
    # The peak is E_0 = 1.0188 (bar 0); every later bar is below it; the trough is the last bar
    assert m.max_drawdown == pytest.approx(1 - equity[-1] / 1.0188, rel=1e-12)
    assert m.max_drawdown == pytest.approx(0.0133643515, abs=1e-10)
    assert m.max_drawdown_bars == 4
    assert m.calmar == pytest.approx(m.annual_return / m.max_drawdown, rel=1e-12)
    # In the market on bars 0, 1, 3; only bar 0 gains after costs
    assert m.hit_rate == pytest.approx(1 / 3)
    assert m.profit_factor == pytest.approx((0.02 - C) / (1 - 101 / 102 + 3 * C), rel=1e-12)
    assert (m.n_trades, m.exposure_pct) == (4, 60.0)
    assert m.turnover == pytest.approx(4 / 5)  # (1 + 0 + 1 + 1 + 1) / 5
    assert m.fees_paid == pytest.approx(4 * C)
    # Sharpe interval (Mertens/Opdyke) and PSR on the per-bar Sharpe, population skewness and kurtosis
    sr = mean / sd
    skew, kurt = _population_skew_kurt(r)
    se = math.sqrt((1 + 0.5 * sr**2 - skew * sr + (kurt - 3) / 4 * sr**2) / 4)
    assert m.sharpe_ci95[0] == pytest.approx((sr - 1.959963984540054 * se) * math.sqrt(8760), rel=1e-9)
    assert m.sharpe_ci95[1] == pytest.approx((sr + 1.959963984540054 * se) * math.sqrt(8760), rel=1e-9)
    assert res.psr_vs_zero == pytest.approx(_phi(sr * 2 / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)))

    # Buy-and-hold: long on all 5 bars, one entry cost on bar 0
    hold = res.buy_and_hold
    np.testing.assert_allclose(hold.net_returns, [0.02 - C, 101 / 102 - 1, 103 / 101 - 1, 0.0, 100 / 103 - 1],
                               atol=1e-15)
    # (1.02 - c) x 101/102 x 103/101 x 1 x 100/103: the price ends where it began, less the entry cost
    assert hold.metrics.total_return == pytest.approx((1.02 - C) * 100 / 102 - 1, rel=1e-12)
    assert hold.metrics.max_drawdown == pytest.approx(3 / 103, rel=1e-12)  # from 103 back to 100, bar 4
    assert hold.metrics.max_drawdown_bars == 1  # below the peak on bar 1 (recovered on bar 2) and on bar 4
    assert res.psr_vs_buy_and_hold == pytest.approx(
        _phi((sr - statistics.fmean(hold.net_returns) / statistics.stdev(hold.net_returns)) * 2
             / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)))

    # Momentum m_t = last_t / last_{t-1} - 1: bar 0 none (flat), +2% (long), -1% (flat), +2% (long), 0 (flat)
    mom = res.momentum
    assert mom.positions.tolist() == [0, 1, 0, 1, 0]
    np.testing.assert_allclose(mom.net_returns, [0.0, 101 / 102 - 1 - C, -C, -C, -C], atol=1e-15)
    assert (mom.metrics.n_trades, mom.metrics.hit_rate, mom.metrics.profit_factor) == (4, 0.0, 0.0)

    # The JSON form: the exact keys, strict (no NaN)
    d = res.to_dict()
    assert list(d) == ["mode", "fee_bps", "slippage_bps", "threshold", "threshold_source", "bars_per_year",
                       "n_bars", "strategy", "buy_and_hold", "momentum", "cash", "psr_vs_zero",
                       "psr_vs_buy_and_hold", "dsr", "n_trials", "threshold_grid"]
    assert list(d["strategy"]) == ["total_return", "annual_return", "annual_volatility", "sharpe", "sharpe_ci95",
                                   "sortino", "max_drawdown", "max_drawdown_bars", "calmar", "hit_rate",
                                   "profit_factor", "n_trades", "exposure_pct", "turnover", "fees_paid"]
    assert (d["dsr"], d["n_trials"]) == (None, None)
    assert d["cash"]["sharpe"] is None and d["cash"]["sharpe_ci95"] == [None, None]  # 0 / 0: undefined
    json.dumps(d, allow_nan=False)
