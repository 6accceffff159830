"""Candle file readers: every supported format, and every bad file ending in one DataError."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from atb.data.candles import COLUMNS, find_gaps
from atb.data.files import read_candle_file
from atb.data.synthetic import synthetic_candles
from atb.errors import DataError


@pytest.fixture
def frame() -> pd.DataFrame:
    return synthetic_candles(30, symbol="BTCUSDT", end=pd.Timestamp("2024-01-02T05:00", tz="UTC"))


def _ms(frame: pd.DataFrame) -> pd.Series:
    return frame["open_time"].astype("int64") // 1_000_000


def write_ours(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    out["open_time"] = out["open_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False)
    return path


def write_binance(frame: pd.DataFrame, path: Path, unit: str = "ms") -> Path:
    scale = {"ms": 1, "us": 1000}[unit]
    times = _ms(frame) * scale
    close_times = times + (3_600_000 - 1) * scale
    rows = pd.DataFrame({
        0: times, 1: frame["open"], 2: frame["high"], 3: frame["low"], 4: frame["close"], 5: frame["volume"],
        6: close_times, 7: frame["volume"] * frame["close"], 8: 100, 9: frame["volume"] / 2,
        10: frame["volume"] * frame["close"] / 2, 11: 0,
    })
    rows.to_csv(path, index=False, header=False)
    return path


def write_feather(frame: pd.DataFrame, path: Path) -> Path:
    frame.rename(columns={"open_time": "date"}).astype({"date": "datetime64[ms, UTC]"}).to_feather(path)
    return path


def write_json(frame: pd.DataFrame, path: Path) -> Path:
    rows = [[int(ms), o, h, lo, c, v] for ms, o, h, lo, c, v in
            zip(_ms(frame), frame["open"], frame["high"], frame["low"], frame["close"], frame["volume"],
                strict=True)]
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as handle:
            json.dump(rows, handle)
    else:
        path.write_text(json.dumps(rows))
    return path


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == COLUMNS
    assert str(got["open_time"].dtype) == "datetime64[ns, UTC]"
    pd.testing.assert_series_equal(got["open_time"], want["open_time"], check_names=False)
    for col in COLUMNS[1:]:
        assert got[col].to_numpy() == pytest.approx(want[col].to_numpy(), rel=1e-12)


# --- good files ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("writer", "name"),
    [
        (write_ours, "c.csv"),
        (write_binance, "BTCUSDT-1h-2024-01.csv"),
        (lambda f, p: write_binance(f, p, "us"), "BTCUSDT-1h-2025-01.csv"),
        (write_feather, "BTC_USDT-1h.feather"),
        (write_json, "BTC_USDT-1h.json"),
        (write_json, "BTC_USDT-1h.json.gz"),
    ],
)
def test_reads_every_format(tmp_path: Path, frame: pd.DataFrame, writer, name: str) -> None:
    path = writer(frame, tmp_path / name)
    got = read_candle_file(path, "1h")
    _same(got, frame)
    assert got.attrs["source"] == f"file:{name}"


def test_binance_units_detected_row_by_row(tmp_path: Path, frame: pd.DataFrame) -> None:
    ms = write_binance(frame.iloc[:15], tmp_path / "a.csv", "ms").read_text()
    us = write_binance(frame.iloc[15:], tmp_path / "b.csv", "us").read_text()
    both = tmp_path / "both.csv"
    both.write_text(ms + us)  # 2024 (ms) and 2025 (µs) monthly files concatenated
    _same(read_candle_file(both, "1h"), frame)


def test_our_csv_with_epoch_milliseconds(tmp_path: Path, frame: pd.DataFrame) -> None:
    out = frame.copy()
    out["open_time"] = _ms(frame)
    out.to_csv(tmp_path / "e.csv", index=False)
    _same(read_candle_file(tmp_path / "e.csv", "1h"), frame)


def test_real_btc_file(shared_data: Path) -> None:
    candles = read_candle_file(shared_data / "BTCUSDT_1h_2017-08_2022-12.csv", "1h")
    assert len(candles) == 46_981
    report = find_gaps(candles, "1h")
    assert report.count == 27
    # 47,108 hourly open times from first to last, 46,981 present: 127 missing candles
    assert report.missing == 127
    assert report.longest.missing == 33  # 34 h between 2018-02-08 00:00 and 2018-02-09 10:00
    assert report.longest.after == pd.Timestamp("2018-02-08T00:00", tz="UTC")


# --- bad files -------------------------------------------------------------------------------------

GOOD_HEADER = "open_time,open,high,low,close,volume"
R1 = "2024-01-01T00:00:00Z,100,110,90,105,5"
R2 = "2024-01-01T01:00:00Z,105,112,101,108,6"
R3 = "2024-01-01T02:00:00Z,108,109,100,101,7"


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.csv", "", r"file is empty"),
        ("blank.csv", "\n\n  \n", r"file is empty"),
        ("header.csv", GOOD_HEADER + "\n", r"header only"),
        ("semicolon.csv", GOOD_HEADER.replace(",", ";") + "\n" + R1.replace(",", ";") + "\n",
         r"semicolon-separated"),
        ("tabs.csv", GOOD_HEADER.replace(",", "\t") + "\n", r"tab-separated"),
        ("nocol.csv", "open_time,open,high,low,close\n" + R1.rsplit(",", 1)[0] + "\n", r"missing column\(s\) volume"),
        ("text.csv", f"{GOOD_HEADER}\n{R1}\n2024-01-01T01:00:00Z,105,abc,101,108,6\n",
         r"row 3: non-numeric high value 'abc'"),
        ("nan.csv", f"{GOOD_HEADER}\n{R1}\n2024-01-01T01:00:00Z,105,112,,108,6\n",
         r"row 3: missing value \(NaN\) in low"),
        ("nanword.csv", f"{GOOD_HEADER}\n{R1}\n2024-01-01T01:00:00Z,105,112,101,NaN,6\n",
         r"row 3: missing value \(NaN\) in close"),
        ("zero.csv", f"{GOOD_HEADER}\n{R1}\n2024-01-01T01:00:00Z,0,112,0,108,6\n", r"row 3: price is zero or negative"),
        ("negative.csv", f"{GOOD_HEADER}\n{R1}\n2024-01-01T01:00:00Z,105,112,-1,108,6\n",
         r"row 3: price is zero or negative"),
        ("highlow.csv", f"{GOOD_HEADER}\n{R1}\n2024-01-01T01:00:00Z,105,100,110,108,6\n", r"row 3: high is below low"),
        ("highopen.csv", f"{GOOD_HEADER}\n{R1}\n2024-01-01T01:00:00Z,105,106,101,108,6\n",
         r"row 3: high is below open or close"),
        ("dup.csv", f"{GOOD_HEADER}\n{R1}\n{R2}\n{R2}\n", r"row 4: duplicated timestamp"),
        ("unsorted.csv", f"{GOOD_HEADER}\n{R1}\n{R3}\n{R2}\n", r"row 4: rows not sorted"),
        ("mixed.csv", f"{GOOD_HEADER}\n{R1}\n2024-01-01T00:30:00Z,105,112,101,108,6\n{R3}\n",
         r"row 3: .*not on the 1h grid"),
        ("badtime.csv", f"{GOOD_HEADER}\n{R1}\nyesterday,105,112,101,108,6\n", r"row 3: unreadable open_time"),
        ("ragged.csv", f"{GOOD_HEADER}\n{R1}\n{R2},1,2\n", r"not a readable CSV"),
        ("binance_badtime.csv", "1704067200000,1,2,0.5,1.5,3,0,0,0,0,0,0\nsoon,1,2,0.5,1.5,3,0,0,0,0,0,0\n",
         r"row 2: unreadable open time 'soon'"),
        ("binance_narrow.csv", "1704067200000,1,2,0.5\n", r"4 columns without a header"),
        ("rows.txt", R1, r"unsupported file type '.txt'"),
        ("notjson.json", "[[1704067200000, 1, 2", r"not valid JSON"),
        ("object.json", '{"data": []}', r"expected a list .* found a JSON dict"),
        ("emptylist.json", "[]", r"no candles"),
        ("short.json", "[[1704067200000, 1, 2, 0.5, 1.5, 3], [1704070800000, 1, 2]]", r"row 2: expected \[ms"),
        ("nulls.json", "[[1704067200000, 1, 2, 0.5, 1.5, 3], [1704070800000, 1, null, 0.5, 1.5, 3]]",
         r"row 2: missing value \(NaN\) in high"),
        ("garbage.feather", "definitely not arrow", r"not a readable .feather file"),
    ],
)
def test_bad_files_are_one_line_data_errors(tmp_path: Path, name: str, content: str, problem: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError) as info:
        read_candle_file(path, "1h")
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    assert re.search(problem, message), message


def test_feather_without_volume(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "novol.feather"
    frame.drop(columns="volume").rename(columns={"open_time": "date"}).to_feather(path)
    with pytest.raises(DataError, match=r"novol.feather: missing column\(s\) volume"):
        read_candle_file(path, "1h")


def test_other_timeframe_on_the_grid_is_refused(tmp_path: Path) -> None:
    four_hourly = synthetic_candles(20, timeframe="4h")
    path = write_ours(four_hourly, tmp_path / "4h.csv")
    with pytest.raises(DataError, match=r"4h.csv: most candles are 0 days 04:00:00 apart, not 1h"):
        read_candle_file(path, "1h")
    assert len(read_candle_file(path, "4h")) == 20


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_candle_file(tmp_path / "nope.csv")
