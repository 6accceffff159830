"""`atb predict SYMBOL --start D --end D [--output FILE.parquet]`: every target time of the range in ONNX batches,
the live path's forecast bar by bar, actual closes where known, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atb.inference.forecaster import Candles, OnnxForecaster
from fakes.serving import CHAMPION, candles, registry

SYMBOL = "BTCUSDT-SYNTHETIC"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return registry(tmp_path / "models", challenger=False)


def test_a_range_written_to_parquet_equals_the_live_path(root: Path, tmp_path: Path, atb_cli) -> None:
    out = tmp_path / "forecasts.parquet"
    result = atb_cli(["predict", SYMBOL, "--data-source", "synthetic", "--models-dir", str(root),
                      "--start", "2024-12-20", "--end", "2024-12-21", "--output", str(out)])
    assert result.code == 0, result.err
    assert "48 forecasts" in " ".join(result.out.split()) and f"wrote {out}" in result.out
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["target_time", "last_close", "predicted_close", "actual_close"]
    assert frame["target_time"].iloc[0] == pd.Timestamp("2024-12-20T00:00Z")
    assert frame["target_time"].iloc[-1] == pd.Timestamp("2024-12-21T23:00Z")  # a bare end date: its whole day
    market = candles(2000)
    close = market.set_index("open_time")["close"]
    np.testing.assert_array_equal(frame["actual_close"], close.reindex(frame["target_time"]).to_numpy())
    np.testing.assert_array_equal(frame["last_close"],
                                  close.reindex(frame["target_time"] - pd.Timedelta(hours=1)).to_numpy())
    model = OnnxForecaster.load(root / SYMBOL / "price" / CHAMPION)
    live = Candles.from_frame(market)
    for row in frame.iloc[::6].itertuples(index=False):
        upto = int(np.searchsorted(live.open_time, row.target_time.value))
        tail = Candles(*(c[:upto] for c in live.columns()))
        assert row.predicted_close == pytest.approx(model.forecast(tail).predicted_close, rel=1e-9)


def test_json_lists_every_row_and_the_newest_target_has_no_actual(root: Path, atb_cli) -> None:
    result = atb_cli(["predict", SYMBOL, "--data-source", "synthetic", "--models-dir", str(root),
                      "--start", "2024-12-31T20:00", "--json"])
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["forecasts"] == 6 and doc["with_actual_close"] == 5  # 20:00 .. 00:00 (the newest candle), 01:00
    assert doc["rows"][-1]["target_time"] == "2025-01-01T01:00:00Z" and doc["rows"][-1]["actual_close"] is None


def test_bad_ranges_are_one_line(root: Path, atb_cli) -> None:
    base = ["predict", SYMBOL, "--data-source", "synthetic", "--models-dir", str(root)]
    no_start = atb_cli([*base, "--end", "2024-12-21"])
    assert no_start.code == 2 and "batch predictions need --start" in no_start.err
    backwards = atb_cli([*base, "--start", "2024-12-21", "--end", "2024-12-20"])
    assert backwards.code == 1 and "no 1h target time between" in backwards.err
    unreadable = atb_cli([*base, "--start", "soon"])
    assert unreadable.code == 2 and "--start: cannot read 'soon' as a date" in unreadable.err
