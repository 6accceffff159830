"""The prediction log writer: the request path only appends a row to a bounded buffer (never blocks, never waits
for the database, never wakes a thread); a background thread drains the buffer every FLUSH_S and writes the rows
in batches. A database that is down costs one warning line and the rows that could not be written (counted in
/metrics), never a request; writing resumes when it is back. SQLAlchemy is imported by that thread as it starts,
not on the request path.

Why a polled buffer and not a queue: a queue wakes its consumer on every put, and each wake-up hands the GIL to
the writer thread and back, which cost the request path more than the forecast itself (measured: +0.2-0.4 ms per
request on 2 cores)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from atb.serving.metrics import Metrics

log = logging.getLogger(__name__)

BATCH_ROWS = 500
FLUSH_S = 0.5  # the longest a row waits in the buffer
BUFFER_ROWS = 100_000  # rows held while the database is slow or down; beyond that they are dropped and counted
RETRY_S = (1.0, 30.0)  # wait after a failed write, doubling up to the second value

Row = dict[str, Any]
Writer = Callable[[list[Row]], None]


class PredictionLog:
    def __init__(self, metrics: Metrics, *, enabled: bool = True, write: Writer | None = None,
                 batch_rows: int = BATCH_ROWS, flush_s: float = FLUSH_S, buffer_rows: int = BUFFER_ROWS) -> None:
        self.enabled = enabled
        self._metrics = metrics
        self._write = write  # None: the run-log database (opened by the thread)
        self._batch_rows, self._flush_s, self._buffer_rows = batch_rows, flush_s, buffer_rows
        self._rows: deque[Row] = deque()  # append and popleft are atomic: no lock on the request path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()
        self._busy = False  # the writer holds a batch it has taken from the buffer
        self.written = 0
        self.dropped = 0
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._backoff = RETRY_S[0]

    def put(self, row: Row) -> None:
        if not self.enabled:
            return
        if len(self._rows) >= self._buffer_rows:
            self._count_dropped(1)
            return
        self._rows.append(row)

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="atb-prediction-log", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is buffered (within ``timeout``), then end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row put so far is written or dropped (tests, the follow loop's replay)."""
        if not self.enabled:
            return True
        with self._done:
            return self._done.wait_for(lambda: not self._rows and not self._busy, timeout)

    # --- the writer thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        if self._write is None:  # import SQLAlchemy and open the database now, not under the first requests
            try:
                self._write = _database_writer()
            except Exception:  # down at start-up: said, and tried again, with the first batch
                self._write = None
        while True:
            stopping = self._stop.wait(self._flush_s)
            while self._rows:
                if not stopping and time.monotonic() < self._retry_at:
                    break  # the database failed a moment ago: hold the rows a little
                self._busy = True
                try:
                    self._write_batch(self._take())
                finally:
                    with self._done:
                        self._busy = False
                        self._done.notify_all()
            if stopping and not self._rows:
                return

    def _take(self) -> list[Row]:
        batch = []
        while self._rows and len(batch) < self._batch_rows:
            batch.append(self._rows.popleft())
        return batch

    def _write_batch(self, batch: list[Row]) -> None:
        try:
            if self._write is None:
                self._write = _database_writer()
            self._write(batch)
        except Exception as exc:  # the log must never cost a request; say so once per outage
            self._count_dropped(len(batch))
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning(f"prediction log: cannot write to the run-log database ({_one_line(exc)}); serving "
                            f"continues, dropped rows are counted in /metrics (atb_prediction_log_rows_total)")
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, RETRY_S[1])
            return
        if self._down_since is not None:
            log.warning(f"prediction log: writing again after {time.monotonic() - self._down_since:.0f} s "
                        f"({self.dropped} rows dropped so far)")
            self._down_since = None
        self._backoff = RETRY_S[0]
        self.written += len(batch)
        self._metrics.log_rows.labels("written").inc(len(batch))

    def _count_dropped(self, rows: int) -> None:
        self.dropped += rows
        self._metrics.log_rows.labels("dropped").inc(rows)


def _database_writer() -> Writer:
    from atb.tracking.served import insert_rows, open_log  # deferred: SQLAlchemy and alembic cost ~0.5 s

    engine = open_log()
    return lambda rows: insert_rows(engine, rows)


def _one_line(exc: BaseException) -> str:
    from atb.tracking.errors import one_line

    return one_line(exc)
