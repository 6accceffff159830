"""Candles from an exchange through ccxt, with the parquet cache in front of it.

Only the spans the cache does not cover are fetched, page by page (``fetch_ohlcv`` with ``since``
and ``limit``), and saved every few pages so an interrupted download keeps what it got. Every
request has a timeout; 429/418 answers (honouring Retry-After) and 5xx answers are retried with
exponential back-off inside a time budget, and an exchange that does not answer at all is given up
on quickly (``RetryPolicy.unreachable_budget_s``) with one line naming the offline alternatives.

The exchange object is injectable: pass ``exchange=`` or monkeypatch :func:`make_exchange`.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from atb.data.cache import Cached, CacheKey, merge_into_cache, missing_spans, read_cache
from atb.data.candles import (
    COLUMNS,
    ceil_time,
    floor_time,
    last_closed_open_time,
    to_utc,
    validate_candles,
)
from atb.data.symbols import normalize_symbol, to_ccxt_symbol
from atb.data.timeframes import timeframe_delta
from atb.errors import DataError, NetworkError, UsageError

SAVE_EVERY_PAGES = 10  # checkpoint long downloads into the cache this often


@dataclass(frozen=True)
class RetryPolicy:
    """How patient a download is. The defaults keep "network down" under 15 s in total."""

    timeout_s: float = 10.0  # per request (ccxt's ``timeout``)
    backoff_s: float = 0.5  # first wait before a retry; doubles every retry
    max_backoff_s: float = 16.0
    attempts: int = 6  # tries per request while the exchange answers with 429/5xx
    busy_budget_s: float = 90.0  # ... and the time they may take together
    unreachable_attempts: int = 3  # tries while there is no answer at all (refused, DNS, timeout)
    unreachable_budget_s: float = 12.0  # ... and their total time, timeouts included
    max_retry_after_s: float = 60.0  # a longer Retry-After ends the download with a message

    def backoff(self, retry: int) -> float:
        return min(self.backoff_s * 2**retry, self.max_backoff_s)


def offline_hint(symbol: str, timeframe: str) -> str:
    return (f"work offline with `atb data import FILE --symbol {symbol} --timeframe {timeframe}` "
            "or `--data-source synthetic`")


# --- the exchange object ---------------------------------------------------------------------------

def check_exchange_id(exchange_id: str) -> str:
    """A ccxt exchange id in lower case, or UsageError. Cheap: does not import ccxt's 100+ modules."""
    import importlib.util

    name = exchange_id.strip().lower()
    spec = importlib.util.find_spec("ccxt")
    folders = list(spec.submodule_search_locations or []) if spec else []
    known = name.isidentifier() and not name.startswith("_") and any(
        (Path(folder) / f"{name}.py").is_file() for folder in folders)
    if not known:
        raise UsageError(
            f"unknown exchange {exchange_id!r}; use a ccxt exchange id such as binance, bybit, "
            "coinbase, kraken or okx (python -c 'import ccxt; print(ccxt.exchanges)' lists them all)"
        )
    return name


def make_exchange(exchange_id: str, policy: RetryPolicy | None = None) -> Any:
    """A ccxt exchange object for public market data (no keys), spot markets only."""
    import ccxt

    exchange_id = check_exchange_id(exchange_id)
    if exchange_id not in ccxt.exchanges:
        raise UsageError(f"unknown exchange {exchange_id!r}")
    policy = policy or RetryPolicy()
    exchange = getattr(ccxt, exchange_id)({"timeout": int(policy.timeout_s * 1000),
                                           "enableRateLimit": True})
    if not exchange.has.get("fetchOHLCV"):
        raise UsageError(f"{exchange_id} offers no OHLCV candles through ccxt")
    # Loading derivatives markets too (binance: fapi, dapi) would triple the start-up requests.
    fetch_markets = exchange.options.get("fetchMarkets")
    if isinstance(fetch_markets, dict) and "spot" in (fetch_markets.get("types") or []):
        exchange.options["fetchMarkets"] = {**fetch_markets, "types": ["spot"]}
    return exchange


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _connection_problem(exc: BaseException, timeout_s: float) -> str:
    import ccxt

    if isinstance(exc, ccxt.RequestTimeout):
        return f"no answer within {timeout_s:g} s"
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    text = " ".join(chain)
    for needle, problem in [
        ("Connection refused", "connection refused"),
        ("Name or service not known", "cannot resolve its host name"),
        ("Temporary failure in name resolution", "cannot resolve its host name"),
        ("NameResolutionError", "cannot resolve its host name"),
        ("nodename nor servname", "cannot resolve its host name"),
        ("Network is unreachable", "network is unreachable"),
        ("No route to host", "no route to host"),
        ("timed out", "connection timed out"),
    ]:
        if needle in text:
            return problem
    return "connection failed"


def _holds_a_list(payload: object, depth: int = 0) -> bool:
    """Whether a JSON answer contains a list anywhere (candles come in one, possibly wrapped)."""
    if isinstance(payload, list):
        return True
    if isinstance(payload, dict) and depth < 4:
        return any(_holds_a_list(v, depth + 1) for v in payload.values())
    return False


def _retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    value = headers.get("Retry-After") if headers else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class ExchangeClient:
    """A ccxt exchange object plus retries, request counting and one-line errors."""

    exchange: Any
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    hint: str = "work offline with `atb data import FILE ...` or `--data-source synthetic`"
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    requests: int = 0
    _status: int | None = None
    _headers: Any = None
    _body: Any = None

    def __post_init__(self) -> None:
        # ccxt keeps no status code of a failed request; record it from its response hook.
        original = self.exchange.on_rest_response

        def record(code: int, reason: str, url: str, method: str, headers: Any, body: Any, *rest: Any) -> Any:
            self._status, self._headers, self._body = code, headers, body
            return original(code, reason, url, method, headers, body, *rest)

        self.exchange.on_rest_response = record

    @property
    def id(self) -> str:
        return str(self.exchange.id)

    def call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with retries; every failure ends as one AtbError."""
        import ccxt

        policy = self.policy
        started = self.clock()
        retries = 0
        busy = False  # the exchange answered (429/5xx): more patience than for silence
        while True:
            budget = policy.busy_budget_s if busy else policy.unreachable_budget_s
            remaining = budget - (self.clock() - started)
            self.exchange.timeout = max(100, int(1000 * min(policy.timeout_s, remaining)))
            self._status, self._headers, self._body = None, None, None
            self.requests += 1
            try:
                return fn(*args)
            except ccxt.BaseError as exc:
                # Which exception ccxt raises for an HTTP error depends on the body; the status decides.
                if not (self._retryable_status() or isinstance(exc, ccxt.NetworkError)):
                    if isinstance(exc, ccxt.BadSymbol):
                        raise UsageError(f"{self.id} does not list this symbol ({_first_line(exc)})") from None
                    raise DataError(f"{self.id} rejected the request for {what}: {_first_line(exc)}") from None
                problem, wait, answered = self._diagnose(exc, retries)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:  # ccxt's parsers
                raise self._malformed(what, _first_line(exc)) from None
            busy = busy or answered
            retries += 1
            elapsed = self.clock() - started
            limit = policy.attempts if busy else policy.unreachable_attempts
            budget = policy.busy_budget_s if busy else policy.unreachable_budget_s
            if retries >= limit or elapsed + wait > budget:
                if busy:
                    raise NetworkError(
                        f"{self.id} keeps failing ({problem}) on {what}: gave up after {retries} tries "
                        f"in {elapsed:.0f} s; try again later, or {self.hint}")
                raise NetworkError(f"cannot reach {self.id} ({problem}); {self.hint}")
            self.sleep(wait)

    def _retryable_status(self) -> bool:
        status = self._status
        return status is not None and (status in (408, 418, 429) or status >= 500)

    def _diagnose(self, exc: BaseException, retries: int) -> tuple[str, float, bool]:
        """(problem, seconds to wait, whether the exchange answered) for a retryable failure."""
        status, policy = self._status, self.policy
        if status in (418, 429):
            wait = _retry_after(self._headers)
            if wait is not None and wait > policy.max_retry_after_s:
                raise NetworkError(f"{self.id} is rate limiting requests and asks to wait {wait:.0f} s; "
                                   f"try again later, or {self.hint}")
            return f"HTTP {status}, rate limited", policy.backoff(retries) if wait is None else wait, True
        if status is not None and (status >= 500 or status == 408):
            return f"HTTP {status}", policy.backoff(retries), True
        if status is not None:  # 403, 404, 451 ...: asking again will not help
            body = " ".join(str(self._body or "").split())[:120]
            raise NetworkError(f"{self.id} refused the request (HTTP {status}: {body}); {self.hint}")
        return _connection_problem(exc, policy.timeout_s), policy.backoff(retries), False

    def _malformed(self, what: str, detail: object) -> DataError:
        return DataError(f"{self.id} sent a malformed answer for {what} ({detail})")

    def _check_json(self, what: str, *, rows: list | None = None) -> None:
        """ccxt quietly returns [] for a body it cannot use (an HTML page, an unrelated JSON object);
        an empty page would then pass for "no candles here" and be remembered as such: refuse it."""
        body = self._body
        if not isinstance(body, str):
            return
        try:
            payload = json.loads(body)
        except ValueError:
            raise self._malformed(what, f"not JSON: {' '.join(body.split())[:60]!r}") from None
        if rows == [] and not _holds_a_list(payload):
            raise self._malformed(what, f"expected a list of candles, got {' '.join(body.split())[:60]!r}")

    def resolve_symbol(self, symbol: str) -> str:
        """The exchange's unified symbol for ``BTCUSDT``/``BTC/USDT``; UsageError when not listed."""
        markets = self.call("the market list", self.exchange.load_markets)
        self._check_json("the market list")
        if not markets:
            raise self._malformed("the market list", "no markets in it")
        candidates = []
        with suppress(UsageError):  # no known quote: the exchange's market ids may know it
            candidates.append(to_ccxt_symbol(symbol))
        glued = normalize_symbol(symbol)
        candidates += [m["symbol"] for m in markets.values()
                       if m.get("spot") and str(m.get("id", "")).upper() == glued]
        for candidate in candidates:
            if candidate in markets:
                return candidate
        raise UsageError(f"unknown symbol {glued} on {self.id} (it lists no such spot market)")

    def check_timeframe(self, timeframe: str) -> None:
        offered = getattr(self.exchange, "timeframes", None) or {}
        if offered and timeframe not in offered:
            raise UsageError(f"{self.id} has no {timeframe} candles; it offers {', '.join(offered)}")

    def page_limit(self) -> int:
        try:
            limit = self.exchange.features["spot"]["fetchOHLCV"]["limit"]
        except (AttributeError, KeyError, TypeError):
            limit = None
        return int(limit) if limit else 500

    def fetch_page(self, symbol: str, timeframe: str, since: pd.Timestamp, limit: int) -> pd.DataFrame:
        """One page of candles opening at or after ``since`` (validated; maybe empty)."""
        what = f"{symbol} {timeframe} candles from {since:%Y-%m-%d %H:%M}"
        since_ms = int(since.value // 1_000_000)
        rows = self.call(what, self.exchange.fetch_ohlcv, symbol, timeframe, since_ms, limit)
        self._check_json(what, rows=rows)
        if not isinstance(rows, list):
            raise self._malformed(what, f"expected a list of candles, got {type(rows).__name__}")
        for i, row in enumerate(rows):
            if not isinstance(row, list | tuple) or len(row) < 6 or any(v is None for v in row[:6]):
                raise self._malformed(what, f"candle {i + 1} is {row!r}")
        if not rows:
            return pd.DataFrame(columns=COLUMNS)
        frame = pd.DataFrame([list(r[:6]) for r in rows], columns=COLUMNS)
        frame["open_time"] = pd.to_datetime(frame["open_time"].astype("int64"), unit="ms", utc=True)
        return validate_candles(frame, f"{self.id} {what}", timeframe, strict=False)


# --- pagination ------------------------------------------------------------------------------------

def fetch_span(client: ExchangeClient, symbol: str, timeframe: str, first: pd.Timestamp,
               last: pd.Timestamp, *, limit: int | None = None) -> Iterator[pd.DataFrame]:
    """Pages of candles with open times in [first, last], oldest first."""
    step = timeframe_delta(timeframe)
    limit = limit or client.page_limit()
    since = first
    while since <= last:
        page = client.fetch_page(symbol, timeframe, since, limit)
        if not page.empty:
            page = page[(page["open_time"] >= since) & (page["open_time"] <= last)]
        if page.empty:  # nothing more on the exchange in this span (or it ignored `since`)
            return
        yield page.reset_index(drop=True)
        since = page["open_time"].iloc[-1] + step


@contextmanager
def _progress(enabled: bool, label: str, total: int) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda done: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from atb.cli.console import err

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("candles"), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


# --- cache in front of the exchange ----------------------------------------------------------------

@dataclass
class DownloadResult:
    candles: pd.DataFrame  # the requested range, validated
    cached: Cached | None  # the whole cache file after the download
    first: pd.Timestamp  # the requested range on the grid (the end is clipped to the last closed candle)
    last: pd.Timestamp
    fetched: int  # candles received from the exchange
    requests: int  # HTTP requests made (0 when the cache had everything)


def download_candles(
    exchange_id: str,
    symbol: str,
    timeframe: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    progress: bool = True,
    exchange: Any = None,
    policy: RetryPolicy | None = None,
    now: pd.Timestamp | None = None,
    root: str | Path | None = None,
    page_limit: int | None = None,
) -> DownloadResult:
    """Fill the cache for [start, end] from the exchange (only what is missing) and return the range."""
    exchange_id = exchange_id.strip().lower() if exchange is not None else check_exchange_id(exchange_id)
    symbol = normalize_symbol(symbol)
    step = timeframe_delta(timeframe)
    first = ceil_time(start, timeframe)
    last = min(floor_time(end, timeframe), last_closed_open_time(timeframe, now))
    if first > last:
        raise DataError(f"no closed {timeframe} candles between {to_utc(start):%Y-%m-%d %H:%M} and "
                        f"{to_utc(end):%Y-%m-%d %H:%M} UTC")
    key = CacheKey(exchange_id, symbol, timeframe)
    cached = read_cache(key, root)
    todo = missing_spans(cached.coverage if cached else [], first, last, step)
    fetched, requests = 0, 0
    if todo:
        policy = policy or RetryPolicy()
        client = ExchangeClient(exchange if exchange is not None else make_exchange(exchange_id, policy),
                                policy, hint=offline_hint(symbol, timeframe))
        try:
            market = client.resolve_symbol(symbol)
            client.check_timeframe(timeframe)
            total = sum(int((b - a) / step) + 1 for a, b in todo)
            label = f"{exchange_id} {symbol} {timeframe}"
            with _progress(progress, label, total) as show:
                done = 0
                for a, b in todo:
                    pages: list[pd.DataFrame] = []
                    for page in fetch_span(client, market, timeframe, a, b, limit=page_limit):
                        pages.append(page)
                        fetched += len(page)
                        show(done + int((page["open_time"].iloc[-1] - a) / step) + 1)
                        if len(pages) >= SAVE_EVERY_PAGES:
                            chunk = pd.concat(pages, ignore_index=True)
                            cached = merge_into_cache(key, chunk, [(a, chunk["open_time"].iloc[-1])], root)
                            pages = []
                    chunk = pd.concat(pages, ignore_index=True) if pages else pd.DataFrame(columns=COLUMNS)
                    cached = merge_into_cache(key, chunk, [(a, b)], root)  # the whole span is now known
                    done += int((b - a) / step) + 1
                    show(done)
        finally:
            requests = client.requests
    candles = _slice(cached, first, last)
    if candles.empty:
        raise DataError(f"{exchange_id} has no {symbol} {timeframe} candles between "
                        f"{first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC")
    candles.attrs["source"] = f"exchange:{exchange_id}"
    return DownloadResult(candles, cached, first, last, fetched, requests)


def _slice(cached: Cached | None, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    if cached is None or cached.candles.empty:
        return pd.DataFrame(columns=COLUMNS)
    times = cached.candles["open_time"]
    return cached.candles[(times >= first) & (times <= last)].reset_index(drop=True)


def load_exchange_candles(
    exchange_id: str,
    symbol: str,
    timeframe: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    progress: bool = True,
    exchange: Any = None,
    policy: RetryPolicy | None = None,
    now: pd.Timestamp | None = None,
    root: str | Path | None = None,
) -> pd.DataFrame:
    """Validated candles with open times in [start, end] (end clipped to the last closed candle),
    read from the cache and fetched from the exchange only where the cache has not covered them."""
    return download_candles(exchange_id, symbol, timeframe, start, end, progress=progress,
                            exchange=exchange, policy=policy, now=now, root=root).candles
