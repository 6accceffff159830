"""The doctor's data-quality checks: each planted fault in the candles sets off its check, with the offender's time;
the team's real BTCUSDT file (reverting 1h moves of 12-17% in March 2020) warns and never fails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from atb.data.files import read_candle_file
from atb.data.synthetic import synthetic_candles
from atb.doctor.data_quality import data_checks, return_outliers, wicks
from atb.doctor.result import Status


@pytest.fixture
def candles() -> pd.DataFrame:
    return synthetic_candles(2000, symbol="TEST", seed=3)


def _by_name(frame: pd.DataFrame) -> dict:
    return {r.name: r for r in data_checks(frame, "1h")}


def _spike(frame: pd.DataFrame, row: int, factor: float) -> pd.DataFrame:
    """One bad tick: the close (and the next open) jump by `factor` for one bar, then come back."""
    out = frame.copy()
    out.loc[row, "close"] *= factor
    out.loc[row + 1, "open"] = out.loc[row, "close"]
    for i in (row, row + 1):
        out.loc[i, "high"] = max(out.loc[i, ["open", "close", "high"]])
        out.loc[i, "low"] = min(out.loc[i, ["open", "close", "low"]])
    return out


def test_clean_synthetic_candles_pass(candles) -> None:
    assert {name: r.status for name, r in _by_name(candles).items()} == dict.fromkeys(
        ("gaps", "zero volume", "stale closes", "return outliers", "wicks"), Status.PASS)


def test_a_price_spike_fails_with_its_time(candles) -> None:
    spiked = _spike(candles, 1000, 1.4)  # +40%, taken back the next bar
    result = return_outliers(spiked, "1h")
    assert result.status is Status.FAIL and result.figures["bad_ticks"] == 1
    assert result.offenders[0].startswith(candles["open_time"].iloc[1000].strftime("%Y-%m-%d %H:%M"))
    # One bar beyond |log return| 0.5 fails even when it is not taken back.
    jumped = candles.copy()
    jumped.loc[1000:, ["open", "high", "low", "close"]] *= 1.8
    assert return_outliers(jumped, "1h").status is Status.FAIL


def test_a_lesser_reverting_move_only_warns(candles) -> None:
    result = return_outliers(_spike(candles, 1000, 1.15), "1h")  # +15% and back: real markets do this
    assert result.status is Status.WARN and result.figures["bad_ticks"] == 0 and result.figures["outliers"] >= 1


def test_gaps_zero_volume_stale_closes_and_wicks_are_reported(candles) -> None:
    faulty = candles.drop(index=range(500, 510)).reset_index(drop=True)  # 10 missing candles
    faulty.loc[100, "volume"] = 0.0
    faulty.loc[200:206, ["open", "high", "low", "close"]] = faulty.loc[200, "close"]  # 7 identical closes
    faulty.loc[300, "high"] = faulty.loc[300, ["open", "close"]].max() * 2.0  # a wick of +100%
    found = _by_name(faulty)
    assert found["gaps"].status is Status.WARN and found["gaps"].figures["missing_candles"] == 10
    assert found["zero volume"].status is Status.WARN
    assert found["zero volume"].offenders == [faulty["open_time"].iloc[100].strftime("%Y-%m-%d %H:%M")]
    assert found["stale closes"].status is Status.WARN and found["stale closes"].figures["longest_run"] == 7
    assert found["wicks"].status is Status.FAIL  # beyond 0.5 in log terms: a bad tick
    moderate = candles.copy()
    moderate.loc[300, "high"] = moderate.loc[300, ["open", "close"]].max() * 1.2
    assert wicks(moderate, "1h").status is Status.WARN


def test_real_btcusdt_warns_and_never_fails(shared_data) -> None:
    btc = read_candle_file(shared_data / "BTCUSDT_1h_2017-08_2022-12.csv", "1h")
    found = _by_name(btc)
    assert not [r.name for r in found.values() if r.status is Status.FAIL]
    outliers = found["return outliers"]
    assert outliers.status is Status.WARN and outliers.figures["bad_ticks"] == 0
    assert any(o.startswith("2020-03-1") for o in outliers.offenders)  # the March 2020 crash, listed first
    assert found["gaps"].figures["gaps"] == 27
    assert np.isfinite(outliers.figures["robust_sd"])
