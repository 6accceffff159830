"""A predict body read into columns, and every bad body a 4xx with a one-line reason; the split routing's hash."""

from __future__ import annotations

import json

import numpy as np
import pytest

from atb.inference.forecaster import NS
from atb.serving.config import check_exposure, is_loopback, parse_split
from atb.serving.request import MAX_BODY_BYTES, RequestError, check_candles, parse_candles
from atb.serving.service import routed_to_challenger
from fakes.serving import body, candles

STEP = 3600 * NS


def good(n: int = 100) -> dict:
    return body(candles(n))


def encode(doc: object) -> bytes:
    return json.dumps(doc).encode()


def reason(raw: bytes, min_candles: int = 10, step: int = STEP, timeframe: str = "1h") -> RequestError:
    with pytest.raises(RequestError) as info:
        check_candles(parse_candles(raw), step, timeframe, min_candles)
    assert "\n" not in info.value.detail and "Traceback" not in info.value.detail
    return info.value


def test_columns_equal_the_candles() -> None:
    frame = candles(50)
    parsed = parse_candles(encode(body(frame)))
    assert parsed.open_time.tolist() == frame["open_time"].astype("int64").tolist()
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(parsed, name), frame[name].to_numpy())
    check_candles(parsed, STEP, "1h", 50)


def test_times_with_an_offset_or_no_zone_read_as_the_same_instants() -> None:
    doc = good(3)
    zulu = parse_candles(encode(doc)).open_time
    for i, candle in enumerate(doc["candles"]):
        candle["open_time"] = candle["open_time"][:-1] + ("+00:00" if i % 2 else "")
    assert parse_candles(encode(doc)).open_time.tolist() == zulu.tolist()
    doc["candles"][0]["open_time"] = "2024-12-31T19:00:00-05:00"  # = 2025-01-01T00:00Z
    assert parse_candles(encode(doc)).open_time[0] == np.datetime64("2025-01-01T00:00:00", "ns").astype(np.int64)


def edit(index: int, **values: object) -> bytes:
    doc = good()
    doc["candles"][index].update(values)
    return encode(doc)


@pytest.mark.parametrize(("raw", "status", "words"), [
    (b"{", 422, "not valid JSON"),
    (b"[]", 422, 'expected a JSON object {"candles"'),
    (encode({"candles": {}}), 422, "expected a JSON object"),
    (encode({"candles": []}), 422, "no candles"),
    (encode({"candles": [1, 2]}), 422, "candle 1 is not an object"),
    (encode({"candles": [{"open": 1}]}), 422, "candle 1 lacks open_time, high, low, close, volume"),
    (edit(5, close="100.0"), 422, 'candle 6: close must be a number, got "100.0"'),
    (edit(5, volume=True), 422, "candle 6: volume must be a number, got true"),
    (edit(5, low=None), 422, "candle 6: low must be a number, got null"),
    (edit(5, open_time=17), 422, "candle 6: open_time must be an ISO-8601 string"),
    (edit(5, open_time="yesterday"), 422, 'candle 6: cannot read open_time "yesterday"'),
    (edit(5, open_time="todayZ"), 422, "cannot read open_time"),
    (edit(0, open_time="1900-01-01T00:00:00Z"), 422, "outside 1970-2262"),
    (MAX_BODY_BYTES * b" " + b"{}", 413, "larger than 1,000,000 bytes"),
])
def test_unreadable_bodies(raw: bytes, status: int, words: str) -> None:
    error = reason(raw)
    assert error.status == status
    assert words in error.detail


def test_nan_and_infinity_are_refused() -> None:
    """JSON has no NaN or Infinity (json.dumps writes the literals, orjson refuses them), nor integers beyond
    64 bits; NaN in columns made otherwise fails the candle check."""
    for raw in (edit(7, close=float("nan")), edit(7, high=float("inf")), edit(7, open=10**400)):
        error = reason(raw)
        assert error.status == 422 and "not valid JSON" in error.detail
    columns = parse_candles(encode(good(20)))
    columns.close[7] = float("nan")
    with pytest.raises(RequestError, match="candle 8: close is NaN or infinite"):
        check_candles(columns, STEP, "1h", 10)


@pytest.mark.parametrize(("index", "values", "words"), [
    (9, {"low": 0.0}, "candle 10: a price is zero or negative"),
    (9, {"open": -5.0}, "candle 10: a price is zero or negative"),
    (9, {"volume": -1.0}, "candle 10: volume is negative"),
    (9, {"high": 1.0, "low": 2.0}, "candle 10: high is below low"),
])
def test_impossible_candles(index: int, values: dict, words: str) -> None:
    raw = edit(index, **values)
    error = reason(raw)
    assert error.status == 422 and words in error.detail


def test_times_must_be_consecutive_oldest_first_on_the_grid() -> None:
    doc = good(20)
    rows = doc["candles"]
    dup = [*rows[:10], rows[9], *rows[11:]]
    assert "candle 11 (" in reason(encode({"candles": dup})).detail
    assert "duplicates the open_time" in reason(encode({"candles": dup})).detail
    swapped = [*rows[:5], rows[6], rows[5], *rows[7:]]
    assert "opens before the candle before it" in reason(encode({"candles": swapped})).detail
    gap = rows[:10] + rows[11:]
    assert "is not the 1h candle after the one before it" in reason(encode({"candles": gap})).detail
    # 1h candles sent to a 4h model, and candles off the hour
    assert "not the 4h candle" in reason(encode(doc), step=4 * STEP, timeframe="4h").detail
    shifted = [dict(r, open_time=r["open_time"].replace(":00:00Z", ":30:00Z")) for r in rows]
    assert "is not on the 1h grid" in reason(encode({"candles": shifted})).detail


def test_too_few_candles_names_the_need() -> None:
    error = reason(encode(good(20)), min_candles=84)
    assert error.detail.startswith("too few candles: 20 given, at least 84 consecutive 1h candles needed")


def test_split_routing_is_stable_and_near_its_share() -> None:
    ids = [f"bot-{i}" for i in range(20_000)]
    routed = [routed_to_challenger(i, 0.2) for i in ids]
    assert routed == [routed_to_challenger(i, 0.2) for i in ids]  # the same id, the same side
    assert 0.18 < np.mean(routed) < 0.22
    assert not routed_to_challenger(None, 0.5) and not routed_to_challenger("", 0.5)
    # a larger share keeps everyone the smaller one routed (a ramp-up moves clients one way only)
    wider = [routed_to_challenger(i, 0.4) for i in ids]
    assert all(w for r, w in zip(routed, wider, strict=True) if r)


def test_split_and_exposure_options() -> None:
    from atb.errors import UsageError

    assert parse_split("0.25:v1").share == 0.25 and parse_split("20%:v1").share == pytest.approx(0.2)
    for bad in ("v1", "0.2:", "1.5:v1", "0:v1", "x:v1"):
        with pytest.raises(UsageError):
            parse_split(bad)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    check_exposure("127.0.0.1", None)
    check_exposure("0.0.0.0", "secret")
    with pytest.raises(UsageError, match="refusing to listen on 0.0.0.0 without an API key: set ATB_API_KEY"):
        check_exposure("0.0.0.0", None)
