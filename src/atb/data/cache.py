"""The candle cache: one parquet file per market, ``<data_dir>/candles/<exchange>/<SYMBOL>-<tf>.parquet``.

Besides the candles, each file records which open-time spans it *covers* (in the parquet schema
metadata, so data and coverage are replaced together). A span that was downloaded is covered even
where the exchange had no candles (outages, before the listing), which is what lets a second
download of the same range make no network call and lets two separate downloads leave an honest
hole between them.

It also records the names of the files that `atb data import` merged into it (``imported_from``), so that
candles read back from the cache say where they came from (:mod:`atb.data.sources`).

Writes are atomic (temporary file, fsync, ``os.replace``) and serialised by a ``filelock`` lock
beside the file, so readers never see a half-written file and two writers never lose each other's
candles. A file that cannot be read is moved aside to ``<name>.corrupt-<UTC time>`` and treated as
absent.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from atb.config import data_dir
from atb.data.candles import COLUMNS, GapReport, find_gaps
from atb.data.timeframes import SUPPORTED, timeframe_delta
from atb.errors import DataError

Span = tuple[pd.Timestamp, pd.Timestamp]  # first and last open time, both included

log = logging.getLogger(__name__)

_COVERAGE_KEY = b"atb.coverage"
_IMPORTED_KEY = b"atb.imported_from"
_LOCK_TIMEOUT_S = 120.0
_NAME = re.compile(r"^(?P<symbol>[A-Z0-9]+)-(?P<timeframe>[0-9]+[mhdw])\.parquet$")


@dataclass(frozen=True)
class CacheKey:
    exchange: str  # ccxt id, lower case
    symbol: str  # canonical, e.g. BTCUSDT
    timeframe: str

    @property
    def filename(self) -> str:
        return f"{self.symbol}-{self.timeframe}.parquet"

    def label(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe}"


@dataclass
class Cached:
    key: CacheKey
    path: Path
    candles: pd.DataFrame
    coverage: list[Span]
    imported_from: tuple[str, ...] = ()  # names of the files `atb data import` merged in

    @property
    def gaps(self) -> GapReport:
        return find_gaps(self.candles, self.key.timeframe)


def cache_root(root: str | Path | None = None) -> Path:
    return Path(root) if root is not None else data_dir() / "candles"


def cache_path(key: CacheKey, root: str | Path | None = None) -> Path:
    return cache_root(root) / key.exchange / key.filename


# --- coverage spans --------------------------------------------------------------------------------

def merge_spans(spans: Iterable[Span], step: pd.Timedelta) -> list[Span]:
    """Union of spans; spans that touch (one step apart) become one."""
    merged: list[Span] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + step:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def missing_spans(coverage: list[Span], start: pd.Timestamp, end: pd.Timestamp,
                  step: pd.Timedelta) -> list[Span]:
    """The parts of [start, end] (open times on the grid) that ``coverage`` does not cover."""
    todo: list[Span] = []
    cursor = start
    for first, last in merge_spans(coverage, step):
        if last < cursor:
            continue
        if first > end:
            break
        if first > cursor:
            todo.append((cursor, first - step))
        cursor = max(cursor, last + step)
        if cursor > end:
            return todo
    if cursor <= end:
        todo.append((cursor, end))
    return todo


def _encode_spans(spans: list[Span]) -> bytes:
    return json.dumps([[a.isoformat(), b.isoformat()] for a, b in spans]).encode()


def _decode_spans(raw: bytes | None) -> list[Span] | None:
    if not raw:
        return None
    return [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in json.loads(raw)]


# --- reading ---------------------------------------------------------------------------------------

def _read_file(key: CacheKey, path: Path) -> Cached:
    """Read one cache file; any failure is an exception (the caller decides what it means)."""

    table = pq.read_table(path)
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}")
    frame = table.select(COLUMNS).to_pandas()
    frame["open_time"] = pd.to_datetime(frame["open_time"], utc=True).astype("datetime64[ns, UTC]")
    for col in COLUMNS[1:]:
        frame[col] = frame[col].astype("float64")
    meta = table.schema.metadata or {}
    coverage = _decode_spans(meta.get(_COVERAGE_KEY))
    if coverage is None:  # a file written without coverage: trust its own first..last
        coverage = [] if frame.empty else [(frame["open_time"].iloc[0], frame["open_time"].iloc[-1])]
    imported = tuple(json.loads(meta[_IMPORTED_KEY])) if meta.get(_IMPORTED_KEY) else ()
    return Cached(key, path, frame, coverage, imported)


def _move_aside(path: Path, problem: str) -> None:
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return  # another process moved it first
    log.warning(f"cache file {path} is unreadable ({problem}); moved it to {target.name} and starting afresh")


def _read_or_discard(key: CacheKey, path: Path) -> Cached | None:
    if not path.is_file():
        return None
    try:
        return _read_file(key, path)
    except Exception as exc:  # any unreadable file (truncated, not parquet, wrong schema) is discarded
        _move_aside(path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None


def read_cache(key: CacheKey, root: str | Path | None = None) -> Cached | None:
    """The cached candles of one market, or None when there are none (a corrupt file is moved aside)."""
    path = cache_path(key, root)
    if not path.is_file():
        return None
    try:
        return _read_file(key, path)
    except Exception:
        with _lock(path):  # re-check under the lock: a writer may have replaced it meanwhile
            return _read_or_discard(key, path)


def inspect_cache_file(key: CacheKey, path: Path) -> Cached:
    """Read a cache file without side effects (for listings); raises DataError when unreadable."""
    try:
        return _read_file(key, path)
    except Exception as exc:
        raise DataError(f"{path}: unreadable cache file ({str(exc).splitlines()[0]})") from None


# --- writing ---------------------------------------------------------------------------------------

@contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock", timeout=_LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout:
        raise DataError(f"{path}: the cache is locked by another atb process; try again later") from None
    try:
        yield
    finally:
        lock.release()


def _write_atomic(path: Path, frame: pd.DataFrame, coverage: list[Span], imported_from: tuple[str, ...]) -> None:
    table = pa.Table.from_pandas(frame[COLUMNS], preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[_COVERAGE_KEY] = _encode_spans(coverage)
    if imported_from:
        meta[_IMPORTED_KEY] = json.dumps(list(imported_from)).encode()
    table = table.replace_schema_metadata(meta)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def merge_into_cache(key: CacheKey, candles: pd.DataFrame, covered: Iterable[Span],
                     root: str | Path | None = None, *, imported_from: str | None = None) -> Cached:
    """Add validated candles (newer values win on equal open times) and mark ``covered`` spans;
    ``imported_from``: the name of the file they come from (`atb data import`).

    Read-merge-write happens under the file's lock, so concurrent writers never lose candles.
    """
    path = cache_path(key, root)
    step = timeframe_delta(key.timeframe)
    with _lock(path):
        old = _read_or_discard(key, path)
        parts = [old.candles] if old is not None and not old.candles.empty else []
        if not candles.empty:
            parts.append(candles[COLUMNS])
        merged = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
        merged = (merged.drop_duplicates(subset="open_time", keep="last")
                  .sort_values("open_time", kind="stable").reset_index(drop=True))
        spans = list(old.coverage) if old is not None else []
        spans += list(covered)
        if not candles.empty:  # candles are always covered by themselves
            spans.append((candles["open_time"].iloc[0], candles["open_time"].iloc[-1]))
        coverage = merge_spans(spans, step)
        imported = old.imported_from if old is not None else ()
        if imported_from and imported_from not in imported:
            imported = (*imported, imported_from)
        _write_atomic(path, merged, coverage, imported)
    return Cached(key, path, merged, coverage, imported)


# --- listing ---------------------------------------------------------------------------------------

def cached_keys(root: str | Path | None = None) -> list[tuple[CacheKey, Path]]:
    """Every market in the cache, sorted by exchange, symbol and timeframe order."""
    base = cache_root(root)
    if not base.is_dir():
        return []
    found = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.parquet")):
            match = _NAME.match(path.name)
            if match and match["timeframe"] in SUPPORTED:
                key = CacheKey(folder.name, match["symbol"], match["timeframe"])
                found.append((key, path))
    order = {tf: i for i, tf in enumerate(SUPPORTED)}
    return sorted(found, key=lambda kp: (kp[0].exchange, kp[0].symbol, order[kp[0].timeframe]))
