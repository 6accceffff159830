"""Market symbols: atb writes them ``BTCUSDT``; ccxt wants ``BTC/USDT``.

``BTC/USDT``, ``btc-usdt`` and freqtrade's ``BTC_USDT`` are accepted too. Splitting a glued symbol
into base and quote uses a list of common quote currencies, longest match first, so that
``BTCFDUSD`` is BTC/FDUSD and not BTCFD/USD.
"""

from __future__ import annotations

import re

from atb.errors import UsageError

QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "DAI", "USD", "EUR", "BTC", "ETH", "BNB")
_BY_LENGTH = sorted(QUOTES, key=len, reverse=True)
_SEPARATORS = re.compile(r"[/_\-]")
_PART = re.compile(r"^[A-Z0-9]+$")


def _parts(symbol: str) -> list[str]:
    text = symbol.strip().upper()
    parts = _SEPARATORS.split(text)
    if not text or len(parts) > 2 or not all(_PART.match(p) for p in parts):
        raise UsageError(f"invalid symbol {symbol!r}; write it like BTCUSDT or BTC/USDT")
    return parts


def normalize_symbol(symbol: str) -> str:
    """The canonical atb spelling: upper case, no separator (``btc/usdt`` -> ``BTCUSDT``)."""
    return "".join(_parts(symbol))


def split_symbol(symbol: str) -> tuple[str, str]:
    """``BTCUSDT`` or ``BTC/USDT`` -> ("BTC", "USDT"); UsageError when no known quote fits."""
    parts = _parts(symbol)
    if len(parts) == 2:
        return parts[0], parts[1]
    glued = parts[0]
    for quote in _BY_LENGTH:
        if glued.endswith(quote) and len(glued) > len(quote):
            return glued[: -len(quote)], quote
    raise UsageError(
        f"cannot tell the quote currency of {symbol!r} (known: {', '.join(QUOTES)}); "
        "write it as BASE/QUOTE, e.g. BTC/USDT"
    )


def to_ccxt_symbol(symbol: str) -> str:
    """``BTCUSDT`` -> ``BTC/USDT`` (the unified spot symbol ccxt uses)."""
    base, quote = split_symbol(symbol)
    return f"{base}/{quote}"
