"""Downloads through ccxt against a fake Binance on 127.0.0.1: pagination, the incremental cache,
retries (5xx, 429 + Retry-After, timeouts), malformed answers, a refused connection, bad symbols."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from atb.data import exchange as exchange_module
from atb.data.cache import CacheKey, read_cache
from atb.data.exchange import RetryPolicy, download_candles, load_exchange_candles
from atb.data.synthetic import synthetic_candles
from atb.errors import DataError, NetworkError, UsageError
from fakes.binance import EXCHANGE_INFO, KLINES, FakeBinance, Fault, free_port, point_at

END = pd.Timestamp("2024-03-01T00:00", tz="UTC")  # open time of the fake market's newest candle
NOW = END + pd.Timedelta(minutes=30)  # ... which is therefore still open
LAST_CLOSED = END - pd.Timedelta(hours=1)
FAST = RetryPolicy(timeout_s=2.0, backoff_s=0.01, max_backoff_s=0.05, attempts=4, busy_budget_s=10.0,
                   unreachable_attempts=2, unreachable_budget_s=3.0)
KEY = CacheKey("binance", "BTCUSDT", "1h")


def t(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture
def market() -> pd.DataFrame:
    return synthetic_candles(2500, symbol="BTCUSDT", end=END)  # 2023-11-18 13:00 .. 2024-03-01 00:00


@pytest.fixture
def fake(market: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[FakeBinance]:
    with FakeBinance({("BTCUSDT", "1h"): market}) as server:
        real = exchange_module.make_exchange
        monkeypatch.setattr(exchange_module, "make_exchange",
                            lambda eid, policy=None: point_at(real(eid, policy), server.base_url))
        yield server


def get(start: str | pd.Timestamp, end: str | pd.Timestamp = END, **kw) -> exchange_module.DownloadResult:
    kw = {"now": NOW, "policy": FAST, **kw}
    return download_candles("binance", "BTCUSDT", "1h", t(start) if isinstance(start, str) else start,
                            t(end) if isinstance(end, str) else end, **kw)


def starts(fake: FakeBinance) -> list[pd.Timestamp]:
    return [pd.Timestamp(int(r.params["startTime"]), unit="ms", tz="UTC")
            for r in fake.requests if r.path == KLINES]


# --- pagination and the cache ----------------------------------------------------------------------

def test_paginates_and_matches_the_exchange(fake: FakeBinance, market: pd.DataFrame) -> None:
    result = get(market["open_time"].iloc[0])
    assert fake.count(EXCHANGE_INFO) == 1
    assert fake.count(KLINES) == 3  # 1000 + 1000 + 499 candles
    assert all(r.params["limit"] == "1000" for r in fake.requests if r.path == KLINES)
    want = market.iloc[:-1].reset_index(drop=True)  # all but the still-open candle
    pd.testing.assert_frame_equal(result.candles, want, check_exact=False, rtol=1e-9, check_freq=False)
    assert result.fetched == 2499 and result.requests == 4
    assert result.candles.attrs["source"] == "exchange:binance"


def test_small_pages(fake: FakeBinance) -> None:
    result = get("2024-02-01", page_limit=100)
    assert len(result.candles) == 29 * 24
    assert fake.count(KLINES) == 7
    assert starts(fake)[1] == t("2024-02-01") + pd.Timedelta(hours=100)


def test_candles_say_whether_they_came_from_the_exchange_or_the_cache(fake: FakeBinance, tmp_path: Path) -> None:
    assert get("2024-02-20").candles.attrs["source"] == "exchange:binance"  # fetched in this call
    assert get("2024-02-21").candles.attrs["source"] == "cache: binance"  # all from the cache: no request
    from atb.data.cache import merge_into_cache

    other = CacheKey("binance", "ETHUSDT", "1h")
    merge_into_cache(other, synthetic_candles(48, symbol="ETHUSDT", end=LAST_CLOSED), [],
                     imported_from="ETHUSDT_1h.csv")
    imported = download_candles("binance", "ETHUSDT", "1h", LAST_CLOSED - pd.Timedelta(hours=10), LAST_CLOSED,
                                now=NOW, policy=FAST)
    assert imported.requests == 0 and imported.candles.attrs["source"] == "cache: imported from ETHUSDT_1h.csv"


def test_second_download_makes_no_request(fake: FakeBinance) -> None:
    first = get("2024-01-01", "2024-02-15")
    fake.reset_counts()
    again = get("2024-01-01", "2024-02-15")
    inside = get("2024-01-10", "2024-01-20")
    assert fake.count() == 0
    assert again.requests == 0 and inside.requests == 0
    pd.testing.assert_frame_equal(again.candles, first.candles)
    assert len(inside.candles) == 10 * 24 + 1


def test_only_missing_head_and_tail_are_fetched(fake: FakeBinance) -> None:
    get("2024-01-10", "2024-01-20")
    fake.reset_counts()
    result = get("2024-01-05", "2024-01-25")
    assert starts(fake) == [t("2024-01-05"), t("2024-01-20 01:00")]
    assert result.fetched == 5 * 24 + 5 * 24
    assert len(result.candles) == 20 * 24 + 1
    assert result.candles["open_time"].diff().dropna().eq(pd.Timedelta(hours=1)).all()


def test_still_open_candle_is_never_cached(fake: FakeBinance) -> None:
    result = get("2024-02-28", END + pd.Timedelta(days=1))
    assert result.candles["open_time"].iloc[-1] == LAST_CLOSED
    cached = read_cache(KEY)
    assert cached.candles["open_time"].iloc[-1] == LAST_CLOSED
    assert cached.coverage[-1][1] == LAST_CLOSED
    # an hour later that candle has closed: exactly one page is fetched for it
    fake.reset_counts()
    later = get("2024-02-28", END, now=NOW + pd.Timedelta(hours=1))
    assert later.candles["open_time"].iloc[-1] == END
    assert starts(fake) == [END]


def test_range_before_the_listing_is_remembered(fake: FakeBinance, market: pd.DataFrame) -> None:
    result = get("2023-10-01", "2023-12-01")
    assert result.candles["open_time"].iloc[0] == market["open_time"].iloc[0]
    fake.reset_counts()
    get("2023-10-01", "2023-12-01")
    assert fake.count() == 0


def test_interrupted_download_keeps_saved_pages(fake: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exchange_module, "SAVE_EVERY_PAGES", 1)
    policy = RetryPolicy(backoff_s=0.01, attempts=2, busy_budget_s=5)
    original = fake._klines
    calls = {"n": 0}

    def flaky(params: dict[str, str]) -> tuple[int, object]:
        calls["n"] += 1
        return (503, {"code": -1, "msg": "down"}) if calls["n"] >= 3 else original(params)

    monkeypatch.setattr(fake, "_klines", flaky)
    with pytest.raises(NetworkError, match="keeps failing"):
        get("2024-01-01", "2024-02-01", page_limit=200, policy=policy)
    kept = read_cache(KEY)
    assert len(kept.candles) == 400  # two pages were saved before the failure
    monkeypatch.setattr(fake, "_klines", original)
    fake.reset_counts()
    result = get("2024-01-01", "2024-02-01", page_limit=200)
    assert starts(fake)[0] == t("2024-01-01") + pd.Timedelta(hours=400)
    assert len(result.candles) == 31 * 24 + 1


# --- retries ---------------------------------------------------------------------------------------

def test_retries_5xx(fake: FakeBinance) -> None:
    fake.fail(Fault(status=503, body="<html>busy</html>", headers={"Content-Type": "text/html"}),
              Fault(status=502), Fault(status=500, path=EXCHANGE_INFO))
    result = get("2024-02-20")
    assert len(result.candles) == 10 * 24
    assert fake.count(KLINES) == 3 and fake.count(EXCHANGE_INFO) == 2


def test_429_honours_retry_after(fake: FakeBinance) -> None:
    fake.fail(Fault(status=429, headers={"Retry-After": "1"}))
    result = get("2024-02-20")
    klines = [r for r in fake.requests if r.path == KLINES]
    assert len(klines) == 2
    assert klines[1].at - klines[0].at >= 0.95  # FAST's own back-off is 0.01 s: the wait was the header's
    assert len(result.candles) == 10 * 24


def test_long_retry_after_ends_with_a_message(fake: FakeBinance) -> None:
    fake.fail(Fault(status=429, headers={"Retry-After": "120"}))
    began = time.monotonic()
    with pytest.raises(NetworkError, match="asks to wait 120 s.*atb data import"):
        get("2024-02-20")
    assert time.monotonic() - began < 5


def test_persistent_5xx_gives_up(fake: FakeBinance) -> None:
    fake.fail(*[Fault(status=503)] * 10)
    with pytest.raises(NetworkError, match=r"binance keeps failing \(HTTP 503\).*4 tries"):
        get("2024-02-20")
    assert fake.count(KLINES) == 4
    assert read_cache(KEY) is None  # nothing half-done was cached


def test_timeout_is_retried(fake: FakeBinance) -> None:
    policy = RetryPolicy(timeout_s=0.3, backoff_s=0.01, unreachable_attempts=3, unreachable_budget_s=5)
    fake.fail(Fault(status=200, delay_s=1.5))
    began = time.monotonic()
    result = get("2024-02-20", policy=policy)
    assert len(result.candles) == 10 * 24
    assert fake.count(KLINES) == 2
    assert time.monotonic() - began < 3


def test_silent_exchange_times_out_within_budget(fake: FakeBinance) -> None:
    policy = RetryPolicy(timeout_s=0.5, backoff_s=0.05, unreachable_attempts=3, unreachable_budget_s=2)
    fake.fail(*[Fault(status=200, delay_s=3, path=EXCHANGE_INFO)] * 3)
    began = time.monotonic()
    with pytest.raises(NetworkError, match=r"cannot reach binance \(no answer within 0.5 s\)"):
        get("2024-02-20", policy=policy)
    assert time.monotonic() - began < 2.5


# --- bad answers and bad requests ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (Fault(status=200, body="<html>maintenance</html>", headers={"Content-Type": "text/html"}), "not JSON"),
        (Fault(status=200, body="[[1708387200000, \"1\", null]]"), "candle 1 is"),
        (Fault(status=200, body='[[1708387200000, "1", "0.5", "2", "1.5", "3"]]'), "high is below low"),
        (Fault(status=200, body='{"unexpected": true}'), "expected a list"),
    ],
)
def test_malformed_answers(fake: FakeBinance, fault: Fault, problem: str) -> None:
    fake.fail(fault)
    with pytest.raises(DataError, match=problem) as info:
        get("2024-02-20")
    assert "\n" not in str(info.value)
    assert read_cache(KEY) is None


def test_unknown_symbol(fake: FakeBinance) -> None:
    with pytest.raises(UsageError, match="unknown symbol DOGEUSDT on binance"):
        download_candles("binance", "DOGE/USDT", "1h", t("2024-02-20"), END, now=NOW)
    assert fake.count(KLINES) == 0


def test_unknown_exchange(data_dir: Path) -> None:
    with pytest.raises(UsageError, match="unknown exchange 'binanse'"):
        download_candles("binanse", "BTCUSDT", "1h", t("2024-02-20"), END)


def test_unsupported_timeframe(fake: FakeBinance) -> None:
    with pytest.raises(UsageError, match="unknown timeframe '7h'"):
        download_candles("binance", "BTCUSDT", "7h", t("2024-02-20"), END, now=NOW)


def test_load_exchange_candles_api(fake: FakeBinance) -> None:
    frame = load_exchange_candles("binance", "BTC/USDT", "1h", t("2024-02-01"), t("2024-02-02"),
                                  policy=FAST)
    assert len(frame) == 25
    assert frame.attrs["source"] == "exchange:binance"
    assert str(frame["open_time"].dtype) == "datetime64[ns, UTC]"


# --- network down, through the CLI entry point ------------------------------------------------------

def test_network_down_is_one_line_within_15_s(data_dir: Path, monkeypatch: pytest.MonkeyPatch, atb_cli) -> None:
    port = free_port()  # nothing listens there: the connection is refused
    real = exchange_module.make_exchange
    monkeypatch.setattr(exchange_module, "make_exchange",
                        lambda eid, policy=None: point_at(real(eid, policy), f"http://127.0.0.1:{port}"))
    began = time.monotonic()
    result = atb_cli(["data", "download", "BTCUSDT", "--days", "3"])  # the default retry policy
    assert time.monotonic() - began < 15
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: cannot reach binance (connection refused)")
    assert "atb data import FILE --symbol BTCUSDT --timeframe 1h" in lines[0]
    assert "--data-source synthetic" in lines[0]


def test_cli_download_then_list_and_show(fake: FakeBinance, atb_cli) -> None:
    first = atb_cli(["data", "download", "BTC/USDT", "-t", "1h", "--start", "2024-02-01", "--end", "2024-02-10"])
    assert first.code == 0, first.err
    assert "240" in first.out and "2 requests" in first.out
    again = atb_cli(["data", "download", "BTCUSDT", "--start", "2024-02-03", "--end", "2024-02-05"])
    assert again.code == 0 and "no network request" in again.out
    entries = json.loads(atb_cli(["data", "list", "--json"]).out)
    assert [(e["exchange"], e["symbol"], e["timeframe"], e["rows"]) for e in entries] == [
        ("binance", "BTCUSDT", "1h", 240)]
    assert entries[0]["first"] == "2024-02-01T00:00:00Z" and entries[0]["last"] == "2024-02-10T23:00:00Z"
    shown = json.loads(atb_cli(["data", "show", "BTCUSDT", "--json"]).out)
    assert shown["gaps"]["count"] == 0 and shown["gap_list"] == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give either --days N or --start DATE"),
        (["--days", "3", "--start", "2024-01-01"], "give either --days N or --start DATE"),
        (["--days", "0"], "--days must be at least 1"),
        (["--start", "yesterdayish"], "cannot read 'yesterdayish'"),
        (["--start", "2024-02-01", "--end", "2024-01-01"], "is after --end"),
        (["--days", "3", "--exchange", "nope"], "unknown exchange 'nope'"),
        (["--days", "3", "--timeframe", "7h"], "unknown timeframe '7h'"),
    ],
)
def test_cli_download_usage_errors(data_dir: Path, atb_cli, argv: list[str], message: str) -> None:
    result = atb_cli(["data", "download", "BTCUSDT", *argv])
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
