"""Candles from an exchange through ccxt, with the parquet cache in front of it.

Only the spans the cache does not cover are fetched, page by page (``fetch_ohlcv`` with ``since``
and ``limit``), and saved every few pages, and when a download fails, so an interrupted download keeps
what it got. Every request has a timeout; 429/418 answers (honouring Retry-After), 5xx answers and
connections cut mid-answer are retried with exponential back-off inside a time budget, and an
exchange that does not answer at all is given up on quickly (``RetryPolicy.unreachable_budget_s``)
with one line naming the offline alternatives.

The cache's coverage only ever claims what an answer of the exchange accounted for (see
:func:`fetch_span`): a page missing candles is asked for twice before its holes count as gaps, an
empty page is not taken for the end of the data while the exchange has newer candles, and a window
it will not send is left uncovered (and warned about) so that the next download asks for it again.

The exchange object is injectable: pass ``exchange=`` or monkeypatch :func:`make_exchange`.
"""

from __future__ import annotations

import email.utils
import importlib.util
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from atb.data.cache import Cached, CacheKey, Span, merge_into_cache, missing_spans, read_cache
from atb.data.candles import (
    COLUMNS,
    ceil_time,
    floor_time,
    last_closed_open_time,
    to_utc,
    validate_candles,
)
from atb.data.sources import cache_label, exchange_label
from atb.data.symbols import normalize_symbol, to_ccxt_symbol
from atb.data.timeframes import timeframe_delta
from atb.errors import DataError, NetworkError, UsageError

SAVE_EVERY_PAGES = 10  # checkpoint long downloads into the cache this often
EMPTY_PAGE_RETRIES = 2  # an empty page while the exchange has newer candles is asked for again this often
MID_ANSWER = "mid-answer"  # the exchange answered, then the connection broke: retried like a 5xx

log = logging.getLogger(__name__)


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
            "(then an --end-date inside the imported range), `--data-file FILE`, or `--data-source synthetic`")


# --- the exchange object ---------------------------------------------------------------------------

def check_exchange_id(exchange_id: str) -> str:
    """A ccxt exchange id in lower case, or UsageError. Cheap: does not import ccxt's 100+ modules."""
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
    import ccxt  # deferred here and below: ccxt's 100+ modules load only when an exchange is used

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
    import ccxt  # deferred (see make_exchange)

    if isinstance(exc, ccxt.RequestTimeout):
        return f"no answer within {timeout_s:g} s"
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    text = " ".join(chain)
    if "Connection broken" in text or "IncompleteRead" in text:  # urllib3: while reading the body
        reset = "reset" in text.lower() or "ECONNRESET" in text
        return f"connection {'reset' if reset else 'closed'} {MID_ANSWER}"
    for needle, problem in [
        ("Connection refused", "connection refused"),
        ("Connection reset", "connection reset"),
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
    _newest: dict[tuple[str, str], pd.Timestamp | None] = field(default_factory=dict, repr=False)
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
        import ccxt  # deferred (see make_exchange)

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
        problem = _connection_problem(exc, policy.timeout_s)
        return problem, policy.backoff(retries), problem.endswith(MID_ANSWER)

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

    def fetch_page(self, symbol: str, timeframe: str, since: pd.Timestamp | None, limit: int) -> pd.DataFrame:
        """One page of candles opening at or after ``since`` (validated, sorted, without duplicates; maybe
        empty). Without ``since``: the newest candles."""
        what = (f"{symbol} {timeframe} candles from {since:%Y-%m-%d %H:%M}" if since is not None
                else f"the newest {symbol} {timeframe} candles")
        since_ms = int(since.value // 1_000_000) if since is not None else None
        rows = self.call(what, self.exchange.fetch_ohlcv, symbol, timeframe, since_ms, limit)
        self._check_json(what, rows=rows)
        if not isinstance(rows, list):
            raise self._malformed(what, f"expected a list of candles, got {type(rows).__name__}")
        for i, row in enumerate(rows):
            if not isinstance(row, list | tuple) or len(row) < 6 or any(v is None for v in row[:6]):
                raise self._malformed(what, f"candle {i + 1} is {row!r}")
        if not rows:
            return pd.DataFrame(columns=COLUMNS)
        # The same candle twice is dropped (by validate_candles); two different ones for one open time
        # leave no way to tell which is right.
        distinct = {tuple(r[:6]) for r in rows}
        if len({r[0] for r in distinct}) < len(distinct):
            opens = sorted(r[0] for r in distinct)
            twice = next(a for a, b in zip(opens, opens[1:], strict=False) if a == b)
            raise self._malformed(what, f"two different candles open at {pd.Timestamp(twice, unit='ms', tz='UTC')}")
        frame = pd.DataFrame([list(r[:6]) for r in rows], columns=COLUMNS)
        frame["open_time"] = pd.to_datetime(frame["open_time"].astype("int64"), unit="ms", utc=True)
        return validate_candles(frame, f"{self.id} {what}", timeframe, strict=False)

    def has_candles_from(self, symbol: str, timeframe: str, since: pd.Timestamp) -> bool:
        """Whether the exchange's newest candle opens at or after ``since`` (one request, remembered)."""
        newest = self._newest.get((symbol, timeframe))
        if newest is None or newest < since:
            page = self.fetch_page(symbol, timeframe, None, 1)
            newest = None if page.empty else page["open_time"].iloc[-1]
            self._newest[(symbol, timeframe)] = newest
        return newest is not None and newest >= since


# --- pagination ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Piece:
    """What one answer of the exchange says about the open times [first, last]."""

    candles: pd.DataFrame  # the candles it sent in [first, last], validated (maybe empty)
    first: pd.Timestamp
    last: pd.Timestamp
    received: bool = True  # False: the exchange would not send this window; it must not count as covered


def _inside(frame: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    times = frame["open_time"]
    return frame[(times >= first) & (times <= last)].reset_index(drop=True)


def fetch_span(client: ExchangeClient, symbol: str, timeframe: str, first: pd.Timestamp,
               last: pd.Timestamp, *, limit: int | None = None) -> Iterator[Piece]:
    """The candles with open times in [first, last], oldest first, one :class:`Piece` per page.

    An answer accounts for the open times from its ``since`` up to its newest candle (or ``last``):
    whatever it lacks in between is a gap of the exchange, but only after a second request for the
    same page agrees, since an exchange may also drop a candle from one answer (the two answers are
    merged: a candle either of them sent is kept). That costs one more request per page with a gap.

    An empty answer is not trusted to mean "nothing after ``since``" either. When the exchange's
    newest candle is older than ``since``, the data ends there and the rest of the span is left
    uncovered, to be asked for again later (the exchange may lag behind, or the market is delisted);
    otherwise the page is asked for again (``EMPTY_PAGE_RETRIES``, with back-off), and when it stays
    empty the download moves on to the next page boundary and yields that window with
    ``received=False``, so that it is not marked as downloaded: a silent hole in the cache would never
    be filled, while an uncovered one is asked for by the next download. (Exchanges that page by
    window rather than by ``since`` really answer empty windows inside a long outage: those windows
    are asked for again by every download, a bounded cost.)
    """
    step = timeframe_delta(timeframe)
    limit = limit or client.page_limit()
    since = first
    while since <= last:
        raw = client.fetch_page(symbol, timeframe, since, limit)
        if raw.empty:
            if not client.has_candles_from(symbol, timeframe, since):
                return
            for retry in range(EMPTY_PAGE_RETRIES):
                client.sleep(client.policy.backoff(retry))
                raw = client.fetch_page(symbol, timeframe, since, limit)
                if not raw.empty:
                    break
            else:
                end = min(since + step * (limit - 1), last)
                yield Piece(pd.DataFrame(columns=COLUMNS), since, end, received=False)
                since = end + step
                continue
        if raw["open_time"].iloc[-1] < since:
            raise client._malformed(f"{symbol} {timeframe} candles from {since:%Y-%m-%d %H:%M}",
                                    f"it ignored the start time and sent candles up to {raw['open_time'].iloc[-1]}")
        end = min(raw["open_time"].iloc[-1], last)
        page = _inside(raw, since, end)
        if len(page) < int((end - since) / step) + 1:  # a gap, or candles dropped from this answer
            again = client.fetch_page(symbol, timeframe, since, limit)
            both = pd.concat([raw, again], ignore_index=True) if not again.empty else raw
            both = both.drop_duplicates(subset="open_time", keep="last").sort_values("open_time", kind="stable")
            end = min(both["open_time"].iloc[-1], last)
            page = _inside(both, since, end)
        yield Piece(page, since, end)
        since = end + step


# --- cache in front of the exchange ----------------------------------------------------------------

DownloadProgress = Callable[[int, int], None]  # (candles done, candles to fetch), called as pages arrive


@dataclass
class DownloadResult:
    candles: pd.DataFrame  # the requested range, validated
    cached: Cached | None  # the whole cache file after the download
    first: pd.Timestamp  # the requested range on the grid (the end is clipped to the last closed candle)
    last: pd.Timestamp
    fetched: int  # candles received from the exchange
    requests: int  # HTTP requests made (0 when the cache had everything)
    missed: list[Span] = field(default_factory=list)  # windows the exchange would not send (not covered)


@dataclass
class _Checkpoints:
    """The pages received and not yet saved; they go into the cache every SAVE_EVERY_PAGES pages, before a
    window the exchange would not send, at the end, and when the download fails."""

    key: CacheKey
    root: str | Path | None
    cached: Cached | None
    parts: list[pd.DataFrame] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)  # the open times the pending answers accounted for
    fetched: int = 0
    missed: list[Span] = field(default_factory=list)

    def add(self, piece: Piece) -> None:
        if piece.received:
            self.spans.append((piece.first, piece.last))
            if not piece.candles.empty:
                self.parts.append(piece.candles)
                self.fetched += len(piece.candles)
        else:  # saved apart, so that the candles around the window do not cover it
            self.save()
            self.missed.append((piece.first, piece.last))
        if len(self.spans) >= SAVE_EVERY_PAGES:
            self.save()

    def save(self) -> None:
        if not self.spans:
            return
        chunk = pd.concat(self.parts, ignore_index=True) if self.parts else pd.DataFrame(columns=COLUMNS)
        covered, self.parts, self.spans = self.spans, [], []
        self.cached = merge_into_cache(self.key, chunk, covered, self.root)


def _bars(first: pd.Timestamp, last: pd.Timestamp, step: pd.Timedelta) -> int:
    return int((last - first) / step) + 1


def _fetch_missing(client: ExchangeClient, book: _Checkpoints, symbol: str, timeframe: str, todo: list[Span],
                   page_limit: int | None, progress: DownloadProgress) -> None:
    """Fetch every span of ``todo`` into the cache, reporting candles done out of the total."""
    step = timeframe_delta(timeframe)
    market = client.resolve_symbol(symbol)
    client.check_timeframe(timeframe)
    total = sum(_bars(a, b, step) for a, b in todo)
    done = 0
    progress(done, total)
    for a, b in todo:
        for piece in fetch_span(client, market, timeframe, a, b, limit=page_limit):
            book.add(piece)
            progress(done + _bars(a, piece.last, step), total)
        done += _bars(a, b, step)
        progress(done, total)
    book.save()


def _missed_message(exchange_id: str, symbol: str, timeframe: str, missed: list[Span]) -> str:
    windows = ", ".join(f"{a:%Y-%m-%d %H:%M}..{b:%Y-%m-%d %H:%M}" for a, b in missed[:3])
    more = f" and {len(missed) - 3} more" if len(missed) > 3 else ""
    return (f"{exchange_id} sent no {symbol} {timeframe} candles for {windows}{more} UTC although it has newer "
            f"ones (asked {EMPTY_PAGE_RETRIES + 1} times); left as a gap the cache does not count as "
            "downloaded, so the next download asks for it again")


def _no_progress(done: int, total: int) -> None:
    pass


def download_candles(
    exchange_id: str,
    symbol: str,
    timeframe: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    progress: DownloadProgress | None = None,
    exchange: Any = None,
    policy: RetryPolicy | None = None,
    now: pd.Timestamp | None = None,
    root: str | Path | None = None,
    page_limit: int | None = None,
) -> DownloadResult:
    """Fill the cache for [start, end] from the exchange (only what is missing) and return the range.
    A window the exchange would not send is logged as a warning and listed in ``missed``."""
    exchange_id = exchange_id.strip().lower() if exchange is not None else check_exchange_id(exchange_id)
    symbol = normalize_symbol(symbol)
    first = ceil_time(start, timeframe)
    last = min(floor_time(end, timeframe), last_closed_open_time(timeframe, now))
    if first > last:
        raise DataError(f"no closed {timeframe} candles between {to_utc(start):%Y-%m-%d %H:%M} and "
                        f"{to_utc(end):%Y-%m-%d %H:%M} UTC")
    key = CacheKey(exchange_id, symbol, timeframe)
    book = _Checkpoints(key, root, read_cache(key, root))
    todo = missing_spans(book.cached.coverage if book.cached else [], first, last, timeframe_delta(timeframe))
    requests = 0
    if todo:
        policy = policy or RetryPolicy()
        client = ExchangeClient(exchange if exchange is not None else make_exchange(exchange_id, policy),
                                policy, hint=offline_hint(symbol, timeframe))
        try:
            _fetch_missing(client, book, symbol, timeframe, todo, page_limit, progress or _no_progress)
        except Exception:
            with suppress(Exception):  # keep the pages received before the failure (each one complete, checked)
                book.save()
            raise
        finally:
            requests = client.requests
    if book.missed:
        log.warning(_missed_message(exchange_id, symbol, timeframe, book.missed))
    candles = _slice(book.cached, first, last)
    if candles.empty:
        raise DataError(f"{exchange_id} has no {symbol} {timeframe} candles between "
                        f"{first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC")
    # Say where the candles really came from: this run's requests, or the cache (filled earlier or imported).
    candles.attrs["source"] = (exchange_label(exchange_id) if requests else
                               cache_label(exchange_id, book.cached.imported_from if book.cached else ()))
    return DownloadResult(candles, book.cached, first, last, book.fetched, requests, book.missed)


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
    progress: DownloadProgress | None = None,
    exchange: Any = None,
    policy: RetryPolicy | None = None,
    now: pd.Timestamp | None = None,
    root: str | Path | None = None,
) -> pd.DataFrame:
    """Validated candles with open times in [start, end] (end clipped to the last closed candle),
    read from the cache and fetched from the exchange only where the cache has not covered them."""
    return download_candles(exchange_id, symbol, timeframe, start, end, progress=progress,
                            exchange=exchange, policy=policy, now=now, root=root).candles
