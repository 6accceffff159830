"""`atb data import/list/show` (no network), help texts and import speed of the real BTC file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from atb.cli import data
from atb.data.synthetic import synthetic_candles


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    out["open_time"] = out["open_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False)
    return path


@pytest.fixture
def candles() -> pd.DataFrame:
    full = synthetic_candles(300, symbol="ETHUSDT", end=pd.Timestamp("2024-05-01", tz="UTC"))
    return full.drop(index=[*range(100, 103), 200]).reset_index(drop=True)  # gaps of 3 and 1 candles


@pytest.mark.parametrize("command", [[], ["download"], ["import"], ["list"], ["show"]])
def test_help(command: list[str]) -> None:
    result = CliRunner().invoke(data.app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_cli_module_imports_nothing_heavy() -> None:
    code = ("import sys, atb.cli.data; heavy = [m for m in ('pandas', 'pyarrow', 'ccxt', 'numpy') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_import_list_show(data_dir: Path, tmp_path: Path, candles: pd.DataFrame, atb_cli) -> None:
    path = write_csv(candles, tmp_path / "eth.csv")
    result = atb_cli(["data", "import", str(path), "--symbol", "ETH/USDT", "--timeframe", "1h"])
    assert result.code == 0, result.err
    assert "296" in result.out and "2 gaps, 4 missing candles" in result.out
    assert (data_dir / "candles" / "binance" / "ETHUSDT-1h.parquet").is_file()

    listed = json.loads(atb_cli(["data", "list", "--json"]).out)
    assert listed == [{
        "exchange": "binance", "symbol": "ETHUSDT", "timeframe": "1h",
        "first": "2024-04-18T13:00:00Z", "last": "2024-05-01T00:00:00Z", "rows": 296,
        "gaps": {"count": 2, "missing": 4,
                 "longest": {"after": "2024-04-22T16:00:00Z", "before": "2024-04-22T20:00:00Z", "missing": 3}},
        "path": str(data_dir / "candles" / "binance" / "ETHUSDT-1h.parquet"),
    }]
    shown = json.loads(atb_cli(["data", "show", "ethusdt", "-t", "1h", "--json"]).out)
    assert shown["gap_list"] == [
        {"after": "2024-04-22T16:00:00Z", "before": "2024-04-22T20:00:00Z", "missing": 3},
        {"after": "2024-04-26T20:00:00Z", "before": "2024-04-26T22:00:00Z", "missing": 1},
    ]
    assert shown["coverage"] == [["2024-04-18T13:00:00Z", "2024-05-01T00:00:00Z"]]

    table = atb_cli(["data", "list"])
    assert "ETHUSDT" in table.out and "296" in table.out
    shown_table = atb_cli(["data", "show", "ETHUSDT"])
    assert "2024-04-22T16:00:00Z" in shown_table.out


def test_import_merges_with_the_cache(data_dir: Path, tmp_path: Path, candles: pd.DataFrame, atb_cli) -> None:
    a = write_csv(candles.iloc[:150], tmp_path / "a.csv")
    b = write_csv(candles.iloc[120:], tmp_path / "b.csv")
    for path in (a, b):
        assert atb_cli(["data", "import", str(path), "-s", "ETHUSDT", "-t", "1h"]).code == 0
    listed = json.loads(atb_cli(["data", "list", "--json"]).out)
    assert listed[0]["rows"] == len(candles)


def test_import_other_exchange_folder(data_dir: Path, tmp_path: Path, candles: pd.DataFrame, atb_cli) -> None:
    path = write_csv(candles, tmp_path / "eth.csv")
    assert atb_cli(["data", "import", str(path), "-s", "ETHUSDT", "-t", "1h", "--exchange", "Kraken"]).code == 0
    assert (data_dir / "candles" / "kraken" / "ETHUSDT-1h.parquet").is_file()
    bad = atb_cli(["data", "import", str(path), "-s", "ETHUSDT", "-t", "1h", "--exchange", "nowhere"])
    assert bad.code == 2 and "unknown exchange 'nowhere'" in bad.err


def test_import_bad_file_is_one_line(data_dir: Path, tmp_path: Path, atb_cli) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("open_time,open,high,low,close,volume\n2024-01-01T00:00:00Z,100,90,95,99,1\n")
    result = atb_cli(["data", "import", str(path), "-s", "BTCUSDT", "-t", "1h"])
    assert result.code == 1
    assert result.err.strip() == f"error: {path}, row 2: high is below low"
    assert not (data_dir / "candles").exists()


def test_import_needs_symbol_and_timeframe(tmp_path: Path, atb_cli) -> None:
    result = atb_cli(["data", "import", str(tmp_path / "x.csv"), "-t", "1h"])
    assert result.code == 2 and "--symbol" in result.err


def test_show_nothing_cached(data_dir: Path, atb_cli) -> None:
    result = atb_cli(["data", "show", "BTCUSDT"])
    assert result.code == 1 and "nothing cached for binance BTCUSDT 1h" in result.err
    assert json.loads(atb_cli(["data", "list", "--json"]).out) == []
    assert "the cache is empty" in atb_cli(["data", "list"]).out


def test_list_warns_about_an_unreadable_file(data_dir: Path, tmp_path: Path, candles: pd.DataFrame,
                                             atb_cli) -> None:
    path = write_csv(candles, tmp_path / "eth.csv")
    atb_cli(["data", "import", str(path), "-s", "ETHUSDT", "-t", "1h"])
    broken = data_dir / "candles" / "binance" / "BTCUSDT-1h.parquet"
    broken.write_bytes(b"PAR1 truncated")
    result = atb_cli(["data", "list", "--json"])
    assert [e["symbol"] for e in json.loads(result.out)] == ["ETHUSDT"]
    assert "unreadable cache file" in result.err


def test_import_real_btc_file(data_dir: Path, shared_data: Path, atb_cli) -> None:
    began = time.perf_counter()
    result = atb_cli(["data", "import", str(shared_data / "BTCUSDT_1h_2017-08_2022-12.csv"),
                      "--symbol", "BTCUSDT", "--timeframe", "1h"])
    elapsed = time.perf_counter() - began
    assert result.code == 0, result.err
    assert "46,981" in result.out and "27 gaps" in result.out
    shown = json.loads(atb_cli(["data", "show", "BTCUSDT", "--json"]).out)
    assert shown["rows"] == 46_981
    assert shown["gaps"]["count"] == 27 and len(shown["gap_list"]) == 27
    assert shown["gaps"]["longest"]["after"] == "2018-02-08T00:00:00Z"
    assert elapsed < 10  # measured ~0.15 s; generous for slow CI machines
