"""The no-trade threshold is chosen on validation bars only, maximises the validation Sharpe over the grid
(ties to the smaller threshold) and is frozen for test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import atb.backtest.run as run_module
from atb.backtest import THRESHOLD_COST_MULTIPLES, run_backtest
from atb.errors import DataError

COST = 0.0012  # default fee 10 bps + slippage 2 bps


def _frame(last, actual, predicted, start: str) -> pd.DataFrame:
    return pd.DataFrame({"target_time": pd.date_range(start, periods=len(last), freq="h", tz="UTC"),
                         "last_close": last, "actual_close": actual, "predicted_close": predicted})


def _market(n: int, seed: int, start: str) -> pd.DataFrame:
    """A random walk and a forecaster that is right about the sign on 30% of the bars, where it says so
    loudly (|p| = 1%), and whispers noise (|p| < 0.05%, below half the cost) on the others: trading the
    whispers only pays costs, so a threshold above them should win on validation."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n + 1)))
    last, actual = close[:-1], close[1:]
    loud = rng.random(n) < 0.3
    p = np.where(loud, 0.01 * np.sign(np.log(actual / last)), rng.uniform(-0.0005, 0.0005, n))
    return _frame(last, actual, last * np.exp(p), start)


def _sharpe_by_hand(frame: pd.DataFrame, threshold: float) -> float:
    p = np.log(frame.predicted_close / frame.last_close).to_numpy()
    pos = (p > threshold).astype(float)
    r = pos * (frame.actual_close / frame.last_close - 1).to_numpy() - np.abs(np.diff(pos, prepend=0)) * COST
    return r.mean() / r.std(ddof=1) * math.sqrt(8760)


VALIDATION = _market(600, seed=21, start="2024-01-01")
TEST = _market(300, seed=22, start="2024-02-01")


def test_the_chosen_threshold_maximises_validation_sharpe_over_the_grid_ties_to_the_smaller():
    res = run_backtest(TEST, VALIDATION)
    assert res.threshold_source == "validation"
    grid = [m * COST for m in THRESHOLD_COST_MULTIPLES]
    assert THRESHOLD_COST_MULTIPLES == (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)
    by_hand = [_sharpe_by_hand(VALIDATION, t) for t in grid]
    assert [t for t, _ in res.threshold_grid] == pytest.approx(grid)
    assert [s for _, s in res.threshold_grid] == pytest.approx(by_hand, rel=1e-12)
    # 0.5 x cost to 5 x cost all drop the whispers and keep the loud calls: the same positions, the same
    # Sharpe, so the tie goes to the smallest of them
    best = max(by_hand)
    assert by_hand[0] < best
    assert res.threshold == pytest.approx(grid[by_hand.index(best)]) == pytest.approx(0.5 * COST)
    assert by_hand[1:] == pytest.approx([best] * 5, rel=1e-12)


def _poisoned_tests() -> dict[str, pd.DataFrame]:
    t = TEST
    return {
        "huge forecasts": t.assign(predicted_close=t.predicted_close * 1e12),
        "tiny forecasts": t.assign(predicted_close=t.predicted_close * 1e-12),
        "reversed prices": t.assign(actual_close=t.last_close ** 2 / t.actual_close),
        "shuffled forecasts": t.assign(predicted_close=t.predicted_close.sample(frac=1, random_state=0).to_numpy()),
        "another market": _market(50, seed=99, start="2024-03-01"),
    }


@pytest.mark.parametrize("poison", list(_poisoned_tests()))
def test_poisoning_the_test_split_does_not_move_the_threshold(poison):
    clean = run_backtest(TEST, VALIDATION)
    dirty = run_backtest(_poisoned_tests()[poison], VALIDATION)
    assert (dirty.threshold, dirty.threshold_source, dirty.threshold_grid) == (
        clean.threshold, clean.threshold_source, clean.threshold_grid)


def test_selection_sees_only_validation_rows_and_is_done_before_the_test_rows_are_read(monkeypatch):
    seen = []
    real = run_module.select_threshold

    def spy(validation, *args):
        seen.append(validation)
        return real(validation, *args)

    monkeypatch.setattr(run_module, "select_threshold", spy)
    run_backtest(TEST, VALIDATION)
    assert len(seen) == 1
    assert seen[0].target_time.equals(pd.DatetimeIndex(VALIDATION.target_time))
    assert not set(seen[0].target_time) & set(TEST.target_time)
    # A test split full of NaN is refused (one line) only after the threshold was chosen from validation
    seen.clear()
    with pytest.raises(DataError, match="^test predictions"):
        run_backtest(TEST.assign(predicted_close=np.nan, actual_close=np.nan), VALIDATION)
    assert len(seen) == 1 and seen[0].target_time.equals(pd.DatetimeIndex(VALIDATION.target_time))


def test_an_explicit_threshold_overrides_and_no_validation_means_zero():
    flagged = run_backtest(TEST, VALIDATION, threshold=0.004)
    assert (flagged.threshold, flagged.threshold_source, flagged.threshold_grid) == (0.004, "flag", ())
    for validation in (None, VALIDATION.iloc[:0], VALIDATION.iloc[:1]):  # fewer than 2 bars: no Sharpe to compare
        res = run_backtest(TEST, validation)
        assert (res.threshold, res.threshold_source) == (0.0, "default")


def test_validation_bars_after_the_test_start_are_refused():
    with pytest.raises(DataError, match="validation bars must all precede the test bars") as err:
        run_backtest(VALIDATION, TEST)  # the splits swapped
    assert "\n" not in str(err.value)


def test_the_threshold_is_frozen_for_test():
    res = run_backtest(TEST, VALIDATION)
    p = np.log(TEST.predicted_close / TEST.last_close).to_numpy()
    np.testing.assert_array_equal(res.strategy.positions, (p > res.threshold).astype(float))


def test_a_validation_where_every_trade_loses_chooses_to_stay_flat():
    # The forecaster is always wrong on validation: every threshold that trades loses; thresholds above every
    # |p| never trade (Sharpe undefined, scored as cash's 0) and the smallest of those wins
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 201)))
    last, actual = close[:-1], close[1:]
    wrong = last * np.exp(-0.002 * np.sign(np.log(actual / last)))  # |p| = 0.002, between 1x and 2x cost
    res = run_backtest(TEST, _frame(last, actual, wrong, "2023-12-01"))
    assert res.threshold == pytest.approx(2 * COST)
    assert all(s < 0 for t, s in res.threshold_grid if t < 0.002)
    assert all(math.isnan(s) for t, s in res.threshold_grid if t > 0.002)
