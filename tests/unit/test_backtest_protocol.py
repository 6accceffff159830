"""The backtest protocol: costs on every change of position, no look-ahead, the benchmarks, the refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from atb.backtest import run_backtest
from atb.errors import DataError, UsageError


def _frame(last, actual, predicted) -> pd.DataFrame:
    return pd.DataFrame({"target_time": pd.date_range("2024-01-01 01:00", periods=len(last), freq="h", tz="UTC"),
                         "last_close": last, "actual_close": actual, "predicted_close": predicted})


def _random_walk(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive bars of a driftless random walk: (last_close, actual_close)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n + 1)))
    return close[:-1], close[1:]


def test_a_strategy_that_flips_every_bar_on_flat_prices_loses_exactly_its_costs():
    n = 10
    flat = np.full(n, 100.0)
    predicted = np.where(np.arange(n) % 2 == 0, 101.0, 99.0)  # up, down, up, ...: +1, -1, +1, ...
    res = run_backtest(_frame(flat, flat, predicted), mode="long_short", threshold=0.0, fee_bps=10, slippage_bps=2)
    s = res.strategy
    assert s.positions.tolist() == [1, -1] * 5
    cost = 0.0012
    # The entry moves the position by 1, each flip by 2; the gross P&L is 0 on flat prices
    expected = np.array([-cost] + [-2 * cost] * (n - 1))
    np.testing.assert_array_equal(s.net_returns, expected)
    assert s.metrics.fees_paid == pytest.approx((1 + 2 * (n - 1)) * cost, rel=1e-15)
    assert s.metrics.total_return == pytest.approx((1 - cost) * (1 - 2 * cost) ** (n - 1) - 1, rel=1e-14)
    assert s.metrics.n_trades == n
    assert s.metrics.turnover == pytest.approx((1 + 2 * (n - 1)) / n)
    assert s.metrics.hit_rate == 0.0 and s.metrics.exposure_pct == 100.0
    assert s.metrics.max_drawdown_bars == n
    # Without costs the same strategy is exactly flat
    free = run_backtest(_frame(flat, flat, predicted), mode="long_short", threshold=0.0, fee_bps=0, slippage_bps=0)
    assert np.all(free.strategy.net_returns == 0) and free.strategy.metrics.total_return == 0.0


def test_perfect_foresight_earns_and_the_same_forecast_one_bar_late_does_not():
    last, actual = _random_walk(5000, seed=7)
    perfect = run_backtest(_frame(last, actual, actual), threshold=0.0)
    # The forecast made for bar t used at bar t+1 (the first bar gets no forecast: predicted = last, flat)
    late_pred = np.concatenate([[last[0]], last[1:] * actual[:-1] / last[:-1]])
    late = run_backtest(_frame(last, actual, late_pred), threshold=0.0, fee_bps=0, slippage_bps=0)
    assert perfect.strategy.metrics.sharpe > 50  # long exactly on the up bars, even after costs
    gross = run_backtest(_frame(last, actual, actual), threshold=0.0, fee_bps=0, slippage_bps=0)
    assert gross.strategy.metrics.hit_rate == 1.0  # in the market only on bars that rise
    assert perfect.psr_vs_zero > 0.999
    # One bar late on a random walk: no edge even without costs (|Sharpe| within ~3 standard errors of 0;
    # se of an annualised Sharpe over n bars ~ sqrt(8760 / n) = 1.3)
    assert abs(late.strategy.metrics.sharpe) < 4
    assert late.strategy.metrics.sharpe < perfect.strategy.metrics.sharpe / 10


def test_positions_never_read_the_bar_they_trade():
    last, actual = _random_walk(300, seed=3)
    rng = np.random.default_rng(4)
    predicted = last * np.exp(rng.normal(0, 0.005, len(last)))
    base = run_backtest(_frame(last, actual, predicted), mode="long_short", threshold=0.001)
    k = 150
    future = actual.copy()
    future[k:] = future[k:] * np.exp(rng.normal(0, 0.05, len(future) - k))  # rewrite what happens from bar k on
    other = run_backtest(_frame(last, future, predicted), mode="long_short", threshold=0.001)
    for name in ("strategy", "buy_and_hold", "momentum", "cash"):
        np.testing.assert_array_equal(getattr(base, name).positions, getattr(other, name).positions)
        np.testing.assert_array_equal(getattr(base, name).net_returns[:k], getattr(other, name).net_returns[:k])
    assert not np.array_equal(base.strategy.net_returns[k:], other.strategy.net_returns[k:])


def test_buy_and_hold_pays_one_entry_cash_is_zero_and_momentum_follows_the_previous_bar():
    last, actual = _random_walk(200, seed=11)
    pred = last * 1.001
    res = run_backtest(_frame(last, actual, pred), mode="long_flat", threshold=0.0, fee_bps=7, slippage_bps=3)
    cost = 0.001
    hold = res.buy_and_hold
    assert np.all(hold.positions == 1) and hold.metrics.n_trades == 1
    assert hold.metrics.fees_paid == pytest.approx(cost, rel=1e-15)
    market = actual / last - 1
    np.testing.assert_allclose(hold.net_returns, np.concatenate([[market[0] - cost], market[1:]]), atol=1e-16)
    # Compounded, buy-and-hold is the price path less the entry cost on bar 0
    assert hold.metrics.total_return == pytest.approx((1 + market[0] - cost) * actual[-1] / actual[0] - 1, rel=1e-10)

    cash = res.cash
    assert np.all(cash.positions == 0) and np.all(cash.net_returns == 0) and np.all(cash.equity == 1)
    c = cash.metrics
    assert (c.total_return, c.annual_return, c.max_drawdown, c.n_trades, c.fees_paid, c.exposure_pct) == (0, 0, 0, 0,
                                                                                                           0, 0)

    mom = res.momentum
    previous = np.concatenate([[0.0], last[1:] / last[:-1] - 1])  # known at the close of t-1
    np.testing.assert_array_equal(mom.positions, (previous > 0).astype(float))
    assert mom.positions[0] == 0
    # Momentum reads last_close only: rewriting this bar's actual_close leaves its position alone
    moved = actual.copy()
    moved[50] *= 1.2
    again = run_backtest(_frame(last, moved, pred), threshold=0.0, fee_bps=7, slippage_bps=3)
    np.testing.assert_array_equal(again.momentum.positions, mom.positions)
    # long_short momentum goes short after a falling bar
    short = run_backtest(_frame(last, actual, pred), mode="long_short", threshold=0.0)
    np.testing.assert_array_equal(short.momentum.positions, np.sign(previous))


def test_a_position_held_across_a_gap_is_carried_at_no_cost():
    # Three scored bars, then a gap of 5 candles, then two more: the rows are taken in order
    times = pd.to_datetime(["2024-01-01 01:00", "2024-01-01 02:00", "2024-01-01 03:00", "2024-01-01 09:00",
                            "2024-01-01 10:00"], utc=True)
    frame = pd.DataFrame({"target_time": times, "last_close": [100.0, 101, 102, 110, 111],
                          "actual_close": [101.0, 102, 103, 111, 112], "predicted_close": [105.0] * 5})
    frame["predicted_close"] = frame["last_close"] * 1.01
    s = run_backtest(frame, threshold=0.0).strategy
    assert s.positions.tolist() == [1] * 5 and s.metrics.n_trades == 1
    # Bar 3 earns its own candle (110 -> 111), not the move during the gap (103 -> 110)
    assert s.net_returns[3] == pytest.approx(111 / 110 - 1, abs=1e-15)


@pytest.mark.parametrize("horizon", [0, 2, 3, 24])
def test_a_horizon_other_than_one_is_refused_in_one_line(horizon):
    last, actual = _random_walk(10, seed=0)
    with pytest.raises(UsageError) as err:
        run_backtest(_frame(last, actual, actual), horizon=horizon)
    message = str(err.value)
    assert "horizon 1 only" in message and f"got {horizon}" in message and "\n" not in message


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"mode": "short_only"}, "unknown backtest mode"),
    ({"fee_bps": -1}, "must be >= 0 bps"),
    ({"threshold": -0.01}, "threshold must be"),
    ({"timeframe": "7h"}, "unknown timeframe"),
    ({"n_trials": 5}, "both n_trials and trial_sharpe_var"),
    ({"n_trials": 0, "trial_sharpe_var": 1.0}, "n_trials must be >= 1"),
])
def test_bad_options_are_one_line_usage_errors(kwargs, words):
    last, actual = _random_walk(10, seed=0)
    with pytest.raises(UsageError, match=words) as err:
        run_backtest(_frame(last, actual, actual), **kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.filterwarnings("ignore:Could not infer format")  # pandas, about the unreadable time below
def test_bad_tables_are_one_line_data_errors():
    last, actual = _random_walk(10, seed=0)
    good = _frame(last, actual, actual)
    with pytest.raises(DataError, match="lack the column"):
        run_backtest(good.drop(columns="predicted_close"))
    with pytest.raises(DataError, match="test predictions: 1 actual_close"):
        run_backtest(good.assign(actual_close=np.where(np.arange(10) == 4, np.nan, actual)))
    with pytest.raises(DataError, match="strictly increasing"):
        run_backtest(good.iloc[::-1])
    with pytest.raises(DataError, match="1 target_time value.s. are missing or unreadable"):
        run_backtest(good.assign(target_time=["not a time"] + list(good.target_time[1:])))
    with pytest.raises(DataError, match="empty"):
        run_backtest(good.iloc[:0])
    with pytest.raises(DataError, match="validation predictions: 1 last_close"):
        run_backtest(good, good.assign(last_close=np.where(np.arange(10) == 2, -1.0, last)))


@pytest.mark.parametrize(("timeframe", "bars"), [("1h", 8760), ("4h", 2190), ("1d", 365), ("15m", 35040)])
def test_bars_per_year_come_from_the_timeframe(timeframe, bars):
    last, actual = _random_walk(10, seed=0)
    assert run_backtest(_frame(last, actual, actual), timeframe=timeframe).bars_per_year == bars
