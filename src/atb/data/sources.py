"""Where candles came from, as the one-line label that travels with them (``frame.attrs["source"]``) into
metadata.json's ``data.source``, the run log and every table: built and read here only.

- ``exchange:binance``: downloaded from the exchange in this run (at least one request was made);
- ``cache: binance``: read from the local cache, which the exchange filled earlier (no network call);
- ``cache: imported from FILE``: read from the local cache, which ``atb data import FILE`` filled;
- ``file:NAME``: read from a candle file (``--data-file``);
- ``synthetic``: the seeded synthetic market.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

SYNTHETIC = "synthetic"
KINDS = ("exchange", "cache", "file", "synthetic")


def exchange_label(exchange_id: str) -> str:
    return f"exchange:{exchange_id}"


def cache_label(exchange_id: str, imported_from: Sequence[str] = ()) -> str:
    return f"cache: imported from {', '.join(imported_from)}" if imported_from else f"cache: {exchange_id}"


def file_label(path: str | Path) -> str:
    return f"file:{Path(path).name}"


def source_kind(label: str | None) -> str:
    """``exchange``, ``cache``, ``file`` or ``synthetic`` (the label itself when it is none of them)."""
    if not label:
        return "-"
    kind = label.split(":", 1)[0].strip()
    return kind if kind in KINDS else label
