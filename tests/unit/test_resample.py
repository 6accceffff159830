"""Longer candles from complete shorter ones: planted holes become gaps, never partial bars."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from atb.data.cache import CacheKey, merge_into_cache, read_cache
from atb.data.candles import find_gaps, validate_candles
from atb.data.resample import check_pair, covered_spans, resample_candles
from atb.data.synthetic import synthetic_candles
from atb.errors import UsageError


def hourly(n: int = 24 * 14, end: str = "2024-03-10T23:00") -> pd.DataFrame:
    return synthetic_candles(n, symbol="ETHUSDT", end=pd.Timestamp(end, tz="UTC"))


def test_4h_bars_aggregate_their_four_hours_on_the_utc_grid() -> None:
    candles = hourly()
    result = resample_candles(candles, "1h", "4h")
    bars = result.candles
    assert result.dropped == 0 and len(bars) == len(candles) // 4
    assert (bars["open_time"].dt.hour % 4 == 0).all()
    first = candles.iloc[:4]
    assert bars.iloc[0][["open", "high", "low", "close", "volume"]].tolist() == pytest.approx(
        [first["open"].iloc[0], first["high"].max(), first["low"].min(), first["close"].iloc[-1],
         first["volume"].sum()])
    validate_candles(bars, "resampled", "4h")  # on the grid, high >= open/close, ...


def test_a_missing_hour_makes_its_4h_bar_a_gap() -> None:
    candles = hourly()
    # plant holes: one hour inside the 3rd bar, two hours of the 10th, and the whole 20th bar
    holes = [9, 37, 38, *range(76, 80)]
    result = resample_candles(candles.drop(index=holes).reset_index(drop=True), "1h", "4h")
    assert result.dropped == 2  # partial bars (the whole missing bar is simply absent)
    assert len(result.candles) == len(candles) // 4 - 3
    starts = set(result.candles["open_time"])
    for hole in holes:
        assert candles["open_time"].iloc[hole].floor("4h") not in starts
    gaps = find_gaps(result.candles, "4h")
    assert gaps.count == 3 and gaps.missing == 3


def test_an_incomplete_first_or_last_bar_is_dropped() -> None:
    candles = hourly().iloc[2:-1].reset_index(drop=True)  # starts at 02:00, ends at 22:00
    result = resample_candles(candles, "1h", "4h")
    assert result.dropped == 2
    assert result.candles["open_time"].iloc[0].hour == 4
    assert result.candles["open_time"].iloc[-1] == pd.Timestamp("2024-03-10T16:00", tz="UTC")


def test_daily_and_weekly_grids() -> None:
    candles = hourly(24 * 30)  # 2024-02-10 (a Saturday) .. 03-10 (a Sunday)
    daily = resample_candles(candles, "1h", "1d").candles
    assert (daily["open_time"].dt.hour == 0).all() and len(daily) == 30
    weekly = resample_candles(daily, "1d", "1w")
    assert (weekly.candles["open_time"].dt.dayofweek == 0).all()  # Monday
    validate_candles(weekly.candles, "weekly", "1w")
    assert len(weekly.candles) == 4 and weekly.dropped == 1  # the Saturday-Sunday start is a partial week


def test_bad_pairs_are_one_line_usage_errors() -> None:
    assert check_pair("1h", "4h") == 4
    for source, target in (("4h", "1h"), ("1h", "1h"), ("4h", "6h"), ("1h", "7h")):
        with pytest.raises(UsageError):
            check_pair(source, target)


def test_covered_spans_only_whole_bars() -> None:
    t = pd.Timestamp
    spans = [(t("2024-01-01T02:00", tz="UTC"), t("2024-01-02T02:00", tz="UTC"))]
    assert covered_spans(spans, "1h", "4h") == [(t("2024-01-01T04:00", tz="UTC"), t("2024-01-01T20:00", tz="UTC"))]


def test_cli_resample_reads_and_writes_the_cache(data_dir: Path, atb_cli) -> None:
    candles = hourly().drop(index=[9]).reset_index(drop=True)
    merge_into_cache(CacheKey("binance", "ETHUSDT", "1h"), candles, [])
    result = atb_cli(["data", "resample", "ETHUSDT", "--from", "1h", "--to", "4h", "--json"])
    assert result.code == 0, result.err
    info = json.loads(result.out)
    assert info["dropped_partial_bars"] == 1 and info["bars"] == 24 * 14 // 4 - 1
    cached = read_cache(CacheKey("binance", "ETHUSDT", "4h"))
    assert cached is not None and len(cached.candles) == info["bars"]
    assert atb_cli(["data", "resample", "ETHUSDT", "--from", "1h", "--to", "4h"]).code == 0  # twice: same bars
    assert len(read_cache(CacheKey("binance", "ETHUSDT", "4h")).candles) == info["bars"]


def test_cli_errors_are_one_line(data_dir: Path, atb_cli) -> None:
    bad = atb_cli(["data", "resample", "ETHUSDT", "--from", "4h", "--to", "1h"])
    assert bad.code == 2 and bad.err.count("\n") == 1 and "whole multiple" in bad.err
    missing = atb_cli(["data", "resample", "ETHUSDT", "--from", "1h", "--to", "4h"])
    assert missing.code == 1 and "nothing cached" in missing.err and "Traceback" not in missing.err
