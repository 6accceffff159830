"""The parquet candle cache: coverage spans, merging, atomic writes, locking, corrupt files."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from atb.data.cache import (
    CacheKey,
    cache_path,
    cached_keys,
    merge_into_cache,
    merge_spans,
    missing_spans,
    read_cache,
)
from atb.data.synthetic import synthetic_candles

H = pd.Timedelta(hours=1)
KEY = CacheKey("binance", "BTCUSDT", "1h")


def t(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def candles(n: int = 48, end: str = "2024-01-02T23:00") -> pd.DataFrame:
    return synthetic_candles(n, symbol="BTCUSDT", end=t(end))


# --- spans -----------------------------------------------------------------------------------------

def test_merge_spans_joins_touching_and_overlapping() -> None:
    spans = [(t("2024-01-01T05:00"), t("2024-01-01T09:00")), (t("2024-01-01T00:00"), t("2024-01-01T04:00")),
             (t("2024-01-01T08:00"), t("2024-01-01T12:00")), (t("2024-01-02T00:00"), t("2024-01-02T01:00"))]
    assert merge_spans(spans, H) == [(t("2024-01-01T00:00"), t("2024-01-01T12:00")),
                                     (t("2024-01-02T00:00"), t("2024-01-02T01:00"))]


def test_missing_spans_head_hole_tail() -> None:
    coverage = [(t("2024-01-01T10:00"), t("2024-01-01T20:00")), (t("2024-01-02T05:00"), t("2024-01-02T08:00"))]
    todo = missing_spans(coverage, t("2024-01-01T00:00"), t("2024-01-02T12:00"), H)
    assert todo == [
        (t("2024-01-01T00:00"), t("2024-01-01T09:00")),
        (t("2024-01-01T21:00"), t("2024-01-02T04:00")),
        (t("2024-01-02T09:00"), t("2024-01-02T12:00")),
    ]
    assert missing_spans(coverage, t("2024-01-01T11:00"), t("2024-01-01T19:00"), H) == []
    assert missing_spans([], t("2024-01-01T00:00"), t("2024-01-01T03:00"), H) == [
        (t("2024-01-01T00:00"), t("2024-01-01T03:00"))]


# --- reading and writing ---------------------------------------------------------------------------

def test_round_trip_keeps_candles_and_coverage(data_dir: Path) -> None:
    frame = candles()
    span = (t("2023-12-31T00:00"), t("2024-01-02T23:00"))  # covered further back than the candles go
    written = merge_into_cache(KEY, frame, [span])
    assert written.path == data_dir / "candles" / "binance" / "BTCUSDT-1h.parquet"
    back = read_cache(KEY)
    assert back is not None
    pd.testing.assert_frame_equal(back.candles, frame, check_like=False, check_freq=False)
    assert str(back.candles["open_time"].dtype) == "datetime64[ns, UTC]"
    assert back.coverage == [span]
    assert not list(written.path.parent.glob("*.tmp"))  # the temporary file was renamed away


def test_merge_prefers_new_values_and_sorts(data_dir: Path) -> None:
    old = candles(48)
    merge_into_cache(KEY, old.iloc[24:], [])
    newer = old.iloc[:30].copy()
    newer.loc[newer.index[-1], "close"] = newer["close"].iloc[-1] * 1.0001
    merged = merge_into_cache(KEY, newer, [])
    assert len(merged.candles) == 48
    assert merged.candles["open_time"].is_monotonic_increasing
    assert merged.candles["close"].iloc[29] == newer["close"].iloc[-1]
    assert merged.coverage == [(old["open_time"].iloc[0], old["open_time"].iloc[-1])]


def test_two_downloads_leave_an_honest_hole(data_dir: Path) -> None:
    frame = candles(72)
    merge_into_cache(KEY, frame.iloc[:10], [])
    merge_into_cache(KEY, frame.iloc[60:], [])
    cached = read_cache(KEY)
    todo = missing_spans(cached.coverage, frame["open_time"].iloc[0], frame["open_time"].iloc[-1], H)
    assert todo == [(frame["open_time"].iloc[10], frame["open_time"].iloc[59])]


def test_corrupt_file_is_moved_aside(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    merge_into_cache(KEY, candles(), [])
    path = cache_path(KEY)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated parquet
    assert read_cache(KEY) is None
    assert not path.exists()
    aside = list(path.parent.glob("BTCUSDT-1h.parquet.corrupt-*"))
    assert len(aside) == 1
    assert "unreadable" in capsys.readouterr().err
    # and the cache works again afterwards
    merge_into_cache(KEY, candles(), [])
    assert len(read_cache(KEY).candles) == 48


def test_garbage_file_is_moved_aside_before_a_merge(data_dir: Path) -> None:
    path = cache_path(KEY)
    path.parent.mkdir(parents=True)
    path.write_text("not parquet at all")
    merged = merge_into_cache(KEY, candles(), [])
    assert len(merged.candles) == 48
    assert len(list(path.parent.glob("*.corrupt-*"))) == 1


def _write_part(args: tuple[str, int]) -> None:
    root, part = args
    frame = candles(400, end="2024-02-01T00:00")
    for i in range(5):  # interleave many read-merge-write cycles with the other process
        chunk = frame.iloc[part * 200 + i * 40: part * 200 + (i + 1) * 40]
        merge_into_cache(KEY, chunk, [], root=root)


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    root = str(tmp_path / "candles")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        pool.map(_write_part, [(root, 0), (root, 1)])
    cached = read_cache(KEY, root=root)
    assert len(cached.candles) == 400
    assert cached.candles["open_time"].is_unique
    assert len(cached.coverage) == 1


def test_cached_keys_lists_markets(data_dir: Path) -> None:
    merge_into_cache(KEY, candles(), [])
    merge_into_cache(CacheKey("binance", "BTCUSDT", "4h"), synthetic_candles(10, timeframe="4h"), [])
    merge_into_cache(CacheKey("kraken", "ETHUSD", "1h"), candles(), [])
    (data_dir / "candles" / "binance" / "notes.txt").write_text("ignored")
    keys = [k for k, _ in cached_keys()]
    assert keys == [KEY, CacheKey("binance", "BTCUSDT", "4h"), CacheKey("kraken", "ETHUSD", "1h")]
