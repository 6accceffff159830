"""`atb bench grid` on two small markets x 1h,4h: 4h built from complete 1h bars, one report for all."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from atb.benchmark.grid import Market, market_data, parse_markets, shorter_timeframes
from atb.data.synthetic import synthetic_candles
from atb.errors import UsageError

pytestmark = pytest.mark.slow

HOLE = 20  # one missing hour (before the span the runs use): its 4h bar is a gap


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    out["open_time"] = out["open_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False)
    return path


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    for symbol, seed in (("AAAUSDT", 3), ("BBBUSDT", 4)):
        candles = synthetic_candles(24 * 40, symbol=symbol, seed=seed, end=pd.Timestamp("2024-06-30T23:00", tz="UTC"))
        write_csv(candles.drop(index=[HOLE]) if symbol == "AAAUSDT" else candles, folder / f"{symbol}_1h_2024.csv")
    return folder


def test_markets_and_their_candles(files: Path, tmp_path: Path) -> None:
    assert parse_markets("aaausdt, BBB/USDT", "1h,4h") == [Market("AAAUSDT", "1h"), Market("AAAUSDT", "4h"),
                                                           Market("BBBUSDT", "1h"), Market("BBBUSDT", "4h")]
    assert shorter_timeframes("4h")[:2] == ["2h", "1h"]
    for symbols, timeframes, message in (("", "1h", "--symbols is empty"), ("A,A", "1h", "twice"),
                                         ("AAAUSDT", "5x", "unknown timeframe")):
        with pytest.raises(UsageError, match=message):
            parse_markets(symbols, timeframes)
    own = market_data(Market("AAAUSDT", "1h"), files, tmp_path / "c")
    assert own.data_file == files / "AAAUSDT_1h_2024.csv" and own.resampled_from is None
    built = market_data(Market("AAAUSDT", "4h"), files, tmp_path / "c")
    assert built.resampled_from == "1h" and built.dropped_partial_bars == 1 and built.rows == 24 * 40 // 4 - 1
    with pytest.raises(UsageError, match="no CCCUSDT candles"):
        market_data(Market("CCCUSDT", "4h"), files, tmp_path / "c")


def test_grid_writes_one_report(files: Path, tmp_path: Path, data_dir: Path, atb_cli) -> None:
    out = tmp_path / "grid"
    result = atb_cli(["bench", "grid", "--symbols", "AAAUSDT,BBBUSDT", "--timeframes", "1h,4h", "--quick",
                      "--days", "10", "--epochs", "1", "--models", "cnn_lstm:lightweight", "--data-dir", str(files),
                      "--threads", "1", "--models-dir", str(tmp_path / "m"), "--output-dir", str(out),
                      "--no-db", "--json"])
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data == json.loads((out / "grid_results.json").read_text())
    assert data["status"] == "completed" and data["settings"]["timeframes"] == ["1h", "4h"]
    assert [(r["symbol"], r["timeframe"], r["model"]) for r in data["rows"]] == [
        (s, tf, "cnn_lstm (lightweight)") for s in ("AAAUSDT", "BBBUSDT") for tf in ("1h", "4h")]
    assert all(r["test_rmse"] > 0 and r["naive_test_rmse"] > 0 for r in data["rows"])
    aaa_4h = next(m for m in data["markets"] if (m["symbol"], m["timeframe"]) == ("AAAUSDT", "4h"))
    assert aaa_4h["data"]["resampled_from"] == "1h" and aaa_4h["data"]["dropped_partial_bars"] == 1
    assert Path(aaa_4h["files"]["report"]).is_file() and Path(aaa_4h["files"]["report"]).parent.name == "AAAUSDT_4h"
    report = (out / "grid_report.md").read_text()
    assert report.count("| AAAUSDT 4h | cnn_lstm (lightweight) (baseline) |") == 1
    assert "1 partial bars dropped" in report
