"""load_market: target span + warm-up history from the synthetic market, a file or an exchange."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from atb.data import exchange as exchange_module
from atb.data.loader import load_market
from atb.data.synthetic import SYNTHETIC_END, synthetic_candles
from atb.errors import DataError, UsageError

H = pd.Timedelta(hours=1)


def t(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_synthetic_defaults() -> None:
    frame = load_market("synthetic", "BTCUSDT", "1h", start=None, end=None, history_bars=50, target_bars=24)
    assert len(frame) == 74
    assert frame["open_time"].iloc[-1] == SYNTHETIC_END
    assert frame.attrs["source"] == "synthetic"
    same = synthetic_candles(74, symbol="BTCUSDT", seed=7, ar_coef=0.1)
    pd.testing.assert_frame_equal(frame, same)


def test_synthetic_passes_seed_and_ar_coef() -> None:
    a = load_market("synthetic", "BTCUSDT", "1h", start=None, end=None, history_bars=0, target_bars=100,
                    seed=1, ar_coef=0.0)
    pd.testing.assert_frame_equal(a, synthetic_candles(100, symbol="BTCUSDT", seed=1, ar_coef=0.0))


def test_synthetic_start_end_span() -> None:
    frame = load_market("synthetic", "btc/usdt", "1h", start=t("2024-06-01"), end=t("2024-06-02 23:30"),
                        history_bars=10, target_bars=1)
    assert len(frame) == 10 + 48
    assert frame["open_time"].iloc[10] == t("2024-06-01")
    assert frame["open_time"].iloc[-1] == t("2024-06-02 23:00")


def _file(tmp_path: Path, frame: pd.DataFrame) -> str:
    out = frame.copy()
    out["open_time"] = out["open_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / "candles.csv"
    out.to_csv(path, index=False)
    return str(path)


def test_file_source_counts_rows_across_gaps(tmp_path: Path) -> None:
    full = synthetic_candles(200, end=t("2024-01-09 07:00"))
    holey = full.drop(index=range(100, 110)).reset_index(drop=True)  # a 10-candle outage
    path = _file(tmp_path, holey)
    frame = load_market("file", "BTCUSDT", "1h", start=None, end=None, history_bars=120, target_bars=50,
                        data_file=path)
    assert len(frame) == 170
    assert frame["open_time"].iloc[-1] == full["open_time"].iloc[-1]
    assert frame.attrs["source"] == "file:candles.csv"
    cut = load_market("file", "BTCUSDT", "1h", start=t("2024-01-08 00:00"), end=t("2024-01-08 23:00"),
                      history_bars=5, target_bars=0, data_file=path)
    assert len(cut) == 29 and cut["open_time"].iloc[5] == t("2024-01-08 00:00")


def test_file_too_short_says_needed_and_available(tmp_path: Path) -> None:
    path = _file(tmp_path, synthetic_candles(100))
    with pytest.raises(DataError, match=r"200 candles needed \(150 target \+ 50 history\).*only 100 exist"):
        load_market("file", "BTCUSDT", "1h", start=None, end=None, history_bars=50, target_bars=150,
                    data_file=path)


def test_file_source_needs_a_file() -> None:
    with pytest.raises(UsageError, match="--data-file"):
        load_market("file", "BTCUSDT", "1h", start=None, end=None, history_bars=1, target_bars=1)


def test_unknown_source() -> None:
    with pytest.raises(UsageError, match="unknown data source 'web'"):
        load_market("web", "BTCUSDT", "1h", start=None, end=None, history_bars=1, target_bars=1)


class FakeExchangeData:
    """Stands in for load_exchange_candles: a market listed at `listed`, with an outage in it."""

    def __init__(self, listed: pd.Timestamp, outage: tuple[pd.Timestamp, pd.Timestamp]) -> None:
        full = synthetic_candles(2000, end=t("2024-03-01"))
        keep = (full["open_time"] >= listed) & ~full["open_time"].between(*outage)
        self.candles = full[keep].reset_index(drop=True)
        self.calls: list[tuple[pd.Timestamp, pd.Timestamp]] = []

    def __call__(self, exchange_id: str, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp,
                 *, progress: bool = True) -> pd.DataFrame:
        self.calls.append((start, end))
        times = self.candles["open_time"]
        out = self.candles[(times >= start) & (times <= end)].reset_index(drop=True)
        out.attrs["source"] = f"exchange:{exchange_id}"
        return out


def test_exchange_source_reaches_back_over_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeExchangeData(listed=t("2023-12-01"), outage=(t("2024-02-20"), t("2024-02-25")))
    monkeypatch.setattr(exchange_module, "load_exchange_candles", fake)
    frame = load_market("exchange", "BTCUSDT", "1h", start=None, end=t("2024-02-29 12:20"),
                        history_bars=300, target_bars=24 * 7)
    assert len(frame) == 300 + 24 * 7
    assert frame["open_time"].iloc[-1] == t("2024-02-29 12:00")
    assert frame.attrs["source"] == "exchange:binance"
    assert len(fake.calls) >= 2  # the first request fell short because of the outage


def test_exchange_source_before_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeExchangeData(listed=t("2024-02-27"), outage=(t("2020-01-01"), t("2020-01-02")))
    monkeypatch.setattr(exchange_module, "load_exchange_candles", fake)
    with pytest.raises(DataError, match=r"468 candles needed \(168 target \+ 300 history\).* only \d+ exist"):
        load_market("exchange", "BTCUSDT", "1h", start=None, end=t("2024-02-29 12:00"),
                    history_bars=300, target_bars=168)
    assert len(fake.calls) <= 3


def test_exchange_end_defaults_to_last_closed_candle(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake(exchange_id: str, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp,
             *, progress: bool = True) -> pd.DataFrame:
        seen["end"] = end
        times = pd.date_range(end=end, periods=500, freq="h", tz="UTC")
        out = synthetic_candles(500)
        out["open_time"] = times  # the fake exchange serves synthetic prices at today's times
        return out

    monkeypatch.setattr(exchange_module, "load_exchange_candles", fake)
    frame = load_market("exchange", "BTCUSDT", "1h", start=None, end=None, history_bars=10, target_bars=10)
    now = pd.Timestamp.now(tz="UTC")
    assert now - 2 * H <= seen["end"] <= now - H
    assert len(frame) == 20
