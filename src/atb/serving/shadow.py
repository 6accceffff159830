"""The challenger's shadow forecasts, batched off the response path.

Scoring the challenger once per request cost every request one ONNX Runtime call and its Python around it (+20 %
on a one-client p50 of 0.9 ms, benchmarks/README.md). Instead each answered request leaves a `ShadowJob` here,
and the event loop scores the pending ones together: every `INTERVAL_S`, or at once when `MAX_PENDING` wait,
in one ONNX batch per challenger. Most requests then pay nothing; the one that meets a flush pays a batch, which
costs far less than its windows one at a time. The rows keep each request's created_at, so the A/B report joins
them with the champion's exactly as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from atb.serving.service import ShadowJob

log = logging.getLogger(__name__)

INTERVAL_S = 0.25  # the longest a shadow forecast waits; the A/B report needs it only after the target bar
MAX_PENDING = 256  # one batch's windows at most (about 5 ms of a default CNN-LSTM on one core)


class ShadowBatcher:
    def __init__(self, score: Callable[[list[ShadowJob]], object], interval_s: float = INTERVAL_S,
                 max_pending: int = MAX_PENDING) -> None:
        self.score = score
        self.interval_s = interval_s
        self.max_pending = max_pending
        self.pending: list[ShadowJob] = []
        self._task: asyncio.Task | None = None

    def add(self, job: ShadowJob) -> None:
        self.pending.append(job)
        if len(self.pending) >= self.max_pending:
            self.flush()

    def flush(self) -> None:
        jobs, self.pending = self.pending, []
        if jobs:
            try:
                self.score(jobs)
            except Exception as exc:  # the service counts per-job failures; this is the last guard of the loop
                log.warning(f"shadow batch of {len(jobs)} failed: {exc}")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self.flush()

    def start(self) -> None:
        """On the running event loop (the app's lifespan)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()  # what was owed is still scored and logged
