"""Symbols: BTCUSDT <-> BTC/USDT."""

from __future__ import annotations

import pytest

from atb.data.symbols import normalize_symbol, split_symbol, to_ccxt_symbol
from atb.errors import UsageError


@pytest.mark.parametrize(
    ("given", "pair"),
    [
        ("BTCUSDT", ("BTC", "USDT")),
        ("btcusdt", ("BTC", "USDT")),
        ("BTC/USDT", ("BTC", "USDT")),
        ("eth-btc", ("ETH", "BTC")),
        ("SOL_USDC", ("SOL", "USDC")),
        ("BTCFDUSD", ("BTC", "FDUSD")),  # longest quote wins: not BTCFD/USD
        ("ETHBUSD", ("ETH", "BUSD")),
        ("BTCTUSD", ("BTC", "TUSD")),
        ("USDCUSDT", ("USDC", "USDT")),
        ("BTCEUR", ("BTC", "EUR")),
        ("MKRDAI", ("MKR", "DAI")),
        ("ETHBTC", ("ETH", "BTC")),
        ("SOLBNB", ("SOL", "BNB")),
        ("BTCUSD", ("BTC", "USD")),
        ("1000SATSUSDT", ("1000SATS", "USDT")),
    ],
)
def test_split(given: str, pair: tuple[str, str]) -> None:
    assert split_symbol(given) == pair
    assert to_ccxt_symbol(given) == "/".join(pair)


def test_normalize() -> None:
    assert normalize_symbol(" btc/usdt ") == "BTCUSDT"
    assert normalize_symbol("BTC_USDT") == "BTCUSDT"
    assert normalize_symbol("XYZABC") == "XYZABC"  # no quote needed to name a cache file


@pytest.mark.parametrize("bad", ["", "BTC/USDT/X", "BTC USDT", "../etc", "BTC$"])
def test_invalid_symbols(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid symbol"):
        normalize_symbol(bad)


def test_unknown_quote() -> None:
    with pytest.raises(UsageError, match="BASE/QUOTE"):
        split_symbol("XYZABC")
    with pytest.raises(UsageError):
        split_symbol("USDT")  # a quote alone is no market
