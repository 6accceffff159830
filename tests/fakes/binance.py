"""A fake Binance spot REST API on 127.0.0.1, enough of it for ccxt: exchangeInfo and klines.

It serves candle frames given per (symbol, interval), counts every request, and can be told to
misbehave for the next requests of an endpoint (HTTP errors, Retry-After, slow or malformed answers,
connections cut mid-answer, candle pages that are empty, duplicated, shuffled or missing a candle),
optionally only for the klines page that starts at a given time. Like Binance, klines without
``startTime`` are the newest candles. Everything is bounded: a random free port, a daemon thread, and
delays capped at a few seconds.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlparse

import pandas as pd

KLINES = "/api/v3/klines"
EXCHANGE_INFO = "/api/v3/exchangeInfo"
MAX_DELAY_S = 5.0  # a misbehaving answer never holds a server thread longer than this


FaultKind = Literal["answer", "real", "close", "reset", "empty", "duplicate", "shuffle", "drop", "conflict"]


@dataclass
class Fault:
    """One misbehaving answer to the next request of ``path`` (of the klines page from ``since``, if given).

    ``kind`` says how it misbehaves:

    - ``answer``: ``status``, ``body`` and ``headers`` instead of the real answer;
    - ``real``: the real answer (with ``delay_s``, a timeout that would have been answered);
    - ``close`` / ``reset``: the real status line and headers, half the body, then the connection is
      closed (FIN) or reset (RST);
    - ``empty``: ``[]`` instead of the page's candles;
    - ``duplicate``: every 50th candle sent twice; ``conflict``: the middle candle sent twice, the
      copy with another volume;
    - ``shuffle``: the candles in a (seeded) random order;
    - ``drop``: the middle candle left out.
    """

    status: int = 500
    body: str = '{"code":-1000,"msg":"fake server error"}'
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering (to provoke client timeouts)
    path: str = KLINES
    kind: FaultKind = "answer"
    since: pd.Timestamp | None = None  # only a klines request with this startTime (None: any request)

    def matches(self, path: str, params: dict[str, str]) -> bool:
        if path != self.path:
            return False
        return self.since is None or params.get("startTime") == str(_ms(self.since))

    def transform(self, rows: list) -> list:
        """The candle rows this fault sends instead of ``rows`` (kinds that change the payload)."""
        rows = [list(r) for r in rows]
        middle = len(rows) // 2
        if self.kind == "empty":
            return []
        if self.kind == "duplicate":  # as many rows as asked for, so the page holds fewer candles
            doubled = [copy for i, row in enumerate(rows) for copy in ([row, list(row)] if i % 50 == 0 else [row])]
            return doubled[:len(rows)]
        if self.kind == "shuffle":
            random.Random(0).shuffle(rows)
            return rows
        if self.kind == "drop" and len(rows) >= 3:
            return rows[:middle] + rows[middle + 1:]
        if self.kind == "conflict" and rows:
            other = list(rows[middle])
            other[5] = f"{float(other[5]) + 1.0:.8f}"
            return rows[:middle + 1] + [other] + rows[middle + 1:]
        return rows


@dataclass
class Request:
    path: str
    params: dict[str, str]
    at: float  # time.monotonic() when it arrived


def _market(symbol: str, base: str, quote: str) -> dict:
    return {
        "symbol": symbol, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
        "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"], "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False, "permissions": ["SPOT"],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000.00", "tickSize": "0.01"},
            {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000.0", "stepSize": "0.00001"},
        ],
    }


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


class FakeBinance:
    """``with FakeBinance({("BTCUSDT", "1h"): frame}) as fake: ... fake.base_url ...``"""

    def __init__(self, candles: dict[tuple[str, str], pd.DataFrame],
                 markets: dict[str, tuple[str, str]] | None = None) -> None:
        self.candles = candles
        symbols = {sym for sym, _ in candles}
        self.markets = markets or {s: (s[:-4], s[-4:]) for s in symbols}  # tests use *USDT symbols
        self.requests: list[Request] = []
        self.faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ---------------------------------------------------------------------------------
    def fail(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeBinance:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> FakeBinance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- answers ---------------------------------------------------------------------------------
    def _next_fault(self, path: str, params: dict[str, str]) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(path, params):
                    self.faults.remove(fault)
                    return fault
        return None

    def _exchange_info(self) -> tuple[int, object]:
        symbols = [_market(s, b, q) for s, (b, q) in sorted(self.markets.items())]
        return 200, {"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [],
                     "exchangeFilters": [], "symbols": symbols}

    def _klines(self, params: dict[str, str]) -> tuple[int, object]:
        symbol, interval = params.get("symbol", ""), params.get("interval", "")
        if symbol not in self.markets:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        frame = self.candles.get((symbol, interval))
        if frame is None:
            return 200, []
        times = frame["open_time"].astype("int64") // 1_000_000
        mask = pd.Series(True, index=frame.index)
        if "startTime" in params:
            mask &= times >= int(params["startTime"])
        if "endTime" in params:
            mask &= times <= int(params["endTime"])
        limit = min(int(params.get("limit", 500)), 1000)
        # Binance: the first candles from startTime, or without it the newest ones
        rows = frame[mask].head(limit) if "startTime" in params else frame[mask].tail(limit)
        step_ms = int((frame["open_time"].iloc[1] - frame["open_time"].iloc[0]).value // 1_000_000) \
            if len(frame) > 1 else 3_600_000
        out = [
            [_ms(r.open_time), f"{r.open:.8f}", f"{r.high:.8f}", f"{r.low:.8f}", f"{r.close:.8f}",
             f"{r.volume:.8f}", _ms(r.open_time) + step_ms - 1, "0", 1, "0", "0", "0"]
            for r in rows.itertuples(index=False)
        ]
        return 200, out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # http.server calls do_<METHOD>
                url = urlparse(self.path)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                with fake._lock:
                    fake.requests.append(Request(url.path, params, time.monotonic()))
                fault = fake._next_fault(url.path, params)
                if fault is not None:
                    time.sleep(min(fault.delay_s, MAX_DELAY_S))
                    if fault.kind == "answer":
                        self._send(fault.status, fault.body.encode(), fault.headers)
                        return
                if url.path == EXCHANGE_INFO:
                    status, payload = fake._exchange_info()
                elif url.path == KLINES:
                    status, payload = fake._klines(params)
                else:
                    status, payload = 404, {"code": -1, "msg": f"fake has no {url.path}"}
                if fault is not None and status == 200 and isinstance(payload, list):
                    payload = fault.transform(payload)
                body = json.dumps(payload).encode()
                if fault is not None and fault.kind in ("close", "reset"):
                    self._send_half(status, body, reset=fault.kind == "reset")
                else:
                    self._send(status, body, {})

            def _send_half(self, status: int, body: bytes, *, reset: bool) -> None:
                """Announce the whole body, send half of it, then close (FIN) or reset (RST) the connection."""
                self.close_connection = True
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    if reset:  # SO_LINGER with a zero timeout: close() sends RST instead of FIN
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.connection.close()
                    else:
                        self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # the client is gone already

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        if name.lower() != "content-type":
                            self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        return Handler


def point_at(exchange: object, base_url: str) -> object:
    """Send every REST call of a ccxt exchange object to ``base_url`` (keeping each URL's path)."""
    api = exchange.urls["api"]
    for name, url in list(api.items()):
        if isinstance(url, str):
            api[name] = base_url + urlparse(url).path
    return exchange


def free_port() -> int:
    """A port nobody listens on (bound, then released): connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
