"""Exchange faults end in a correct cache or in one clear line, never in a silent hole.

Every test downloads 2024-01-01 00:00 .. 2024-02-01 00:00 (745 hourly candles) from the fake Binance in
pages of 200 (starting at P[0] .. P[3]) with one kind of fault, then checks the cache candle by candle
against the fake's own data (open time and all five values, exactly) and checks that its coverage
claims no open time that no answer accounted for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from atb.data import exchange as exchange_module
from atb.data.cache import CacheKey, read_cache
from atb.data.exchange import EMPTY_PAGE_RETRIES, RetryPolicy, download_candles
from atb.data.synthetic import synthetic_candles
from atb.errors import AtbError, DataError, NetworkError, UsageError
from fakes.binance import EXCHANGE_INFO, KLINES, FakeBinance, Fault, point_at

END = pd.Timestamp("2024-03-01T00:00", tz="UTC")  # open time of the fake market's newest candle
NOW = END + pd.Timedelta(minutes=30)  # ... which is therefore still open
HOUR = pd.Timedelta(hours=1)
FIRST, LAST = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-02-01", tz="UTC")
LIMIT = 200
P = [FIRST + i * LIMIT * HOUR for i in range(4)]  # where the pages start: 200 + 200 + 200 + 145 candles
PAGES = 4
# timeout_s 0.5 s: the fake answers in milliseconds, its "slow" faults after 1.5 s
FAST = RetryPolicy(timeout_s=0.5, backoff_s=0.01, max_backoff_s=0.05, attempts=4, busy_budget_s=10.0,
                   unreachable_attempts=2, unreachable_budget_s=3.0)
KEY = CacheKey("binance", "BTCUSDT", "1h")


@pytest.fixture
def source() -> pd.DataFrame:
    """The fake's candles, at the 8 decimals it sends: what a faultless download must cache exactly."""
    frame = synthetic_candles(2500, symbol="BTCUSDT", end=END)  # 2023-11-18 13:00 .. 2024-03-01 00:00
    frame[frame.columns[1:]] = frame[frame.columns[1:]].round(8)
    frame.attrs.clear()
    return frame


def serve(source: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> FakeBinance:
    server = FakeBinance({("BTCUSDT", "1h"): source},
                         markets={"BTCUSDT": ("BTC", "USDT"), "ETHUSDT": ("ETH", "USDT")})  # ETH: no candles
    real = exchange_module.make_exchange
    monkeypatch.setattr(exchange_module, "make_exchange",
                        lambda eid, policy=None: point_at(real(eid, policy), server.base_url))
    return server.start()


@pytest.fixture
def fake(source: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[FakeBinance]:
    server = serve(source, monkeypatch)
    yield server
    server.stop()


def get(first: pd.Timestamp = FIRST, last: pd.Timestamp = LAST, **kw) -> exchange_module.DownloadResult:
    kw = {"now": NOW, "policy": FAST, "page_limit": LIMIT, **kw}
    return download_candles("binance", kw.pop("symbol", "BTCUSDT"), "1h", first, last, **kw)


def between(frame: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    times = frame["open_time"]
    return frame[(times >= first) & (times <= last)]


def assert_cache(want: pd.DataFrame, coverage: list[tuple[pd.Timestamp, pd.Timestamp]]) -> None:
    cached = read_cache(KEY)
    assert cached is not None
    pd.testing.assert_frame_equal(cached.candles, want.reset_index(drop=True), check_exact=True)
    assert cached.coverage == coverage


def assert_one_line(error: pytest.ExceptionInfo[AtbError]) -> None:
    message = str(error.value)
    assert message and "\n" not in message and "Traceback" not in message


def klines(fake: FakeBinance) -> list[pd.Timestamp | None]:
    """Each klines request's startTime (None: a request for the newest candles)."""
    return [pd.Timestamp(int(r.params["startTime"]), unit="ms", tz="UTC") if "startTime" in r.params else None
            for r in fake.requests if r.path == KLINES]


# --- faults that pass: the cache ends exactly right -------------------------------------------------

SHIFTED = [P[0], P[1], P[2] - 4 * HOUR, P[3] - 4 * HOUR]  # page 1 held 4 candles twice, so 4 fewer in all
TRANSIENT = {  # the faults hit page 1, and the klines requests that follow (None: the newest candle)
    "429 with Retry-After": ([Fault(status=429, headers={"Retry-After": "1"}, since=P[1])], [P[1]]),
    "5xx burst": ([Fault(status=503, body="<html>busy</html>", headers={"Content-Type": "text/html"}, since=P[1]),
                   Fault(status=502, since=P[1]), Fault(status=500, since=P[1])], [P[1]] * 3),
    "connection closed mid-body": ([Fault(kind="close", since=P[1])], [P[1]]),
    "connection reset mid-body": ([Fault(kind="reset", since=P[1])], [P[1]]),
    "timeout": ([Fault(kind="real", delay_s=1.5, since=P[1])], [P[1]]),
    # asks for the newest candle (there are newer ones than P[1]: the page cannot be the end), then again
    "empty page mid-range": ([Fault(kind="empty", since=P[1])], [None, P[1]]),
    "duplicated candles": ([Fault(kind="duplicate", since=P[1])], SHIFTED),
    "candles out of order": ([Fault(kind="shuffle", since=P[1])], []),
    "candle dropped mid-page": ([Fault(kind="drop", since=P[1])], [P[1]]),  # the page is asked for again
}


@pytest.mark.parametrize(("faults", "asked"), TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_fault_ends_in_the_exact_cache(fake: FakeBinance, source: pd.DataFrame, capsys,
                                                 faults: list[Fault], asked: list) -> None:
    fake.fail(*faults)
    result = get()
    assert not fake.faults  # every fault was served
    assert klines(fake) == (asked if asked is SHIFTED else [P[0], P[1], *asked, P[2], P[3]])
    want = between(source, FIRST, LAST)
    assert_cache(want, [(FIRST, LAST)])
    pd.testing.assert_frame_equal(result.candles, want.reset_index(drop=True), check_exact=True)
    assert result.cached.gaps.count == 0 and result.missed == []
    assert result.fetched == len(want)
    assert capsys.readouterr().err == ""


def test_429_waits_as_long_as_retry_after_says(fake: FakeBinance) -> None:
    fake.fail(Fault(status=429, headers={"Retry-After": "1"}, since=P[1]))
    get()
    asked = [r.at for r in fake.requests if r.params.get("startTime") == str(P[1].value // 1_000_000)]
    assert len(asked) == 2 and asked[1] - asked[0] >= 0.95


# --- faults that persist: one clear line, and only what was received is cached ----------------------

PERSISTENT = {
    "5xx": ([Fault(status=503, since=P[2])] * 4, NetworkError,
            r"binance keeps failing \(HTTP 503\) on BTC/USDT 1h candles from 2024-01-17 16:00: gave up after 4"),
    # the exchange answered, then broke off: as patient as with 5xx answers
    "connection reset": ([Fault(kind="reset", since=P[2])] * 4, NetworkError,
                         r"binance keeps failing \(connection reset mid-answer\) on BTC/USDT 1h candles from "
                         r"2024-01-17 16:00: gave up after 4 tries .*; try again later, or work offline"),
    "connection closed": ([Fault(kind="close", since=P[2])] * 4, NetworkError,
                          r"binance keeps failing \(connection closed mid-answer\) .* gave up after 4 tries"),
    "timeout": ([Fault(kind="real", delay_s=1.5, since=P[2])] * 2, NetworkError,
                r"cannot reach binance \(no answer within 0.5 s\); work offline"),
    "conflicting duplicates": ([Fault(kind="conflict", since=P[2])], DataError,
                               r"malformed answer for BTC/USDT 1h candles from 2024-01-17 16:00 "
                               r"\(two different candles open at 2024-01-21 20:00:00\+00:00\)"),
    "malformed candle": ([Fault(status=200, body='[[1705509600000, "1", null]]', since=P[2])], DataError,
                         r"\(candle 1 is \[1705509600000, 1.0, None"),
}


@pytest.mark.parametrize(("faults", "error", "message"), PERSISTENT.values(), ids=PERSISTENT.keys())
def test_persistent_fault_is_one_line_and_keeps_the_pages_received(
        fake: FakeBinance, source: pd.DataFrame, faults: list[Fault], error: type[AtbError], message: str) -> None:
    fake.fail(*faults)
    with pytest.raises(error, match=message) as info:
        get()
    assert_one_line(info)
    assert not fake.faults
    # the two pages before the fault were saved, and the coverage ends with them
    assert_cache(between(source, FIRST, P[2] - HOUR), [(FIRST, P[2] - HOUR)])
    # and the next download asks only for the rest
    fake.reset_counts()
    result = get()
    assert klines(fake) == [P[2], P[3]]
    assert_cache(between(source, FIRST, LAST), [(FIRST, LAST)])
    assert len(result.candles) == 745


def test_failure_on_the_first_page_writes_nothing(fake: FakeBinance) -> None:
    fake.fail(*[Fault(kind="reset", since=P[0])] * 4)
    with pytest.raises(NetworkError, match="connection reset mid-answer") as info:
        get()
    assert_one_line(info)
    assert read_cache(KEY) is None


# --- empty pages ------------------------------------------------------------------------------------

def test_page_that_stays_empty_is_left_out_of_the_coverage(fake: FakeBinance, source: pd.DataFrame, capsys) -> None:
    fake.fail(*[Fault(kind="empty", since=P[1])] * (1 + EMPTY_PAGE_RETRIES))
    result = get()
    assert not fake.faults
    assert klines(fake) == [P[0], P[1], None, P[1], P[1], P[2], P[3]]
    window = (P[1], P[2] - HOUR)
    assert result.missed == [window]
    # the candles before and after the window are cached; the window is a gap not counted as downloaded
    want = pd.concat([between(source, FIRST, P[1] - HOUR), between(source, P[2], LAST)])
    assert_cache(want, [(FIRST, P[1] - HOUR), (P[2], LAST)])
    pd.testing.assert_frame_equal(result.candles, want.reset_index(drop=True), check_exact=True)
    gaps = result.cached.gaps
    assert gaps.count == 1 and gaps.missing == LIMIT and gaps.gaps[0].after == P[1] - HOUR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert ("warning: binance sent no BTCUSDT 1h candles for 2024-01-09 08:00..2024-01-17 15:00 UTC although it "
            "has newer ones (asked 3 times)") in err
    # the next download asks for that window only, and the hole is filled
    fake.reset_counts()
    again = get()
    assert klines(fake) == [P[1]]
    assert_cache(between(source, FIRST, LAST), [(FIRST, LAST)])
    assert again.missed == [] and again.cached.gaps.count == 0


def test_data_that_ends_before_the_range_is_not_claimed_beyond_its_end(fake: FakeBinance, source: pd.DataFrame) -> None:
    """An empty page with no newer candles on the exchange is the end of its data (delisted, or lagging):
    the rest of the range is not marked as downloaded, so a later download asks again."""
    later = END + pd.Timedelta(days=3)
    first = pd.Timestamp("2024-02-25", tz="UTC")
    result = get(first, later, now=later)
    assert klines(fake) == [first, END + HOUR, None]
    assert result.candles["open_time"].iloc[-1] == END
    assert_cache(between(source, first, END), [(first, END)])
    assert result.missed == []
    fake.reset_counts()
    get(first, later, now=later)
    assert klines(fake) == [END + HOUR, None]


def test_market_without_candles_is_one_line(fake: FakeBinance) -> None:
    with pytest.raises(DataError, match="binance has no ETHUSDT 1h candles between 2024-01-01 00:00 and") as info:
        get(symbol="ETHUSDT")
    assert_one_line(info)
    assert read_cache(CacheKey("binance", "ETHUSDT", "1h")) is None


# --- holes inside a page ----------------------------------------------------------------------------

def test_gap_the_exchange_really_has_is_cached_and_reported_as_a_gap(
        source: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    hole = (P[1] + 50 * HOUR, P[1] + 54 * HOUR)  # an outage of 5 candles
    market = source[(source["open_time"] < hole[0]) | (source["open_time"] > hole[1])].reset_index(drop=True)
    server = serve(market, monkeypatch)
    try:
        result = get()
        # the page with the hole is asked for twice: both answers agree, so it is a gap of the exchange
        assert klines(server)[:3] == [P[0], P[1], P[1]] and len(klines(server)) == PAGES + 1
        assert_cache(between(market, FIRST, LAST), [(FIRST, LAST)])
        gaps = result.cached.gaps
        assert gaps.count == 1 and gaps.missing == 5
        assert (gaps.gaps[0].after, gaps.gaps[0].before) == (hole[0] - HOUR, hole[1] + HOUR)
        assert len(result.candles) == 745 - 5 and result.missed == []
        server.reset_counts()
        assert get().requests == 0  # the gap is known: nothing to ask for again
    finally:
        server.stop()


def test_candle_dropped_from_both_answers_stays_a_gap(fake: FakeBinance, source: pd.DataFrame) -> None:
    """Two answers that agree are all there is to go by: the candle is never invented, and the hole shows
    in the gap report."""
    fake.fail(Fault(kind="drop", since=P[1]), Fault(kind="drop", since=P[1]))
    result = get()
    dropped = P[1] + LIMIT // 2 * HOUR
    want = between(source, FIRST, LAST)
    assert_cache(want[want["open_time"] != dropped], [(FIRST, LAST)])
    assert result.cached.gaps.count == 1 and result.cached.gaps.gaps[0].after == dropped - HOUR


# --- symbols ----------------------------------------------------------------------------------------

def test_symbol_the_exchange_does_not_list(fake: FakeBinance) -> None:
    with pytest.raises(UsageError, match="unknown symbol DOGEUSDT on binance") as info:
        get(symbol="DOGE/USDT")
    assert_one_line(info)
    assert fake.count(KLINES) == 0 and fake.count(EXCHANGE_INFO) == 1
    assert read_cache(CacheKey("binance", "DOGEUSDT", "1h")) is None


def test_symbol_the_candle_endpoint_rejects(fake: FakeBinance) -> None:
    fake.fail(Fault(status=400, body='{"code":-1121,"msg":"Invalid symbol."}'))
    began = time.monotonic()
    with pytest.raises(UsageError, match=r"binance does not list this symbol .*Invalid symbol") as info:
        get()
    assert_one_line(info)
    assert fake.count(KLINES) == 1  # not retried
    assert time.monotonic() - began < 5
    assert read_cache(KEY) is None
