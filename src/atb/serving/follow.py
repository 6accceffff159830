"""`atb serve --follow`: at every bar close, fetch the new closed candle through the cache (ccxt, retried as
`atb data download` retries), forecast the next bar with the champion and the challenger, and log both, so the
A/B log fills without a client. Network faults and bad answers cost a warning and a retry, never the server.

The clock and the wait are injectable: a test replays bars of a file compressed in time, with a fake exchange.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from atb.errors import ModelError
from atb.inference.forecaster import NS, Candles, window_features
from atb.registry.store import is_synthetic_folder, market_symbol
from atb.serving.service import PredictionService, row

log = logging.getLogger(__name__)

DELAY_S = 2.0  # after a bar closes, give the exchange this long to publish the candle
RETRY_S = 30.0  # a failed or early look is repeated this often until the next bar closes
HISTORY_SLACK_BARS = 24  # fetched beyond what the models need, so that a short gap does not end the window

Clock = Callable[[], float]  # seconds since the epoch (UTC)
Wait = Callable[[float], bool]  # sleep that long; True: stop following


class Follower:
    def __init__(self, service: PredictionService, symbols: list[str], exchange_id: str, *, clock: Clock = time.time,
                 wait: Wait | None = None, exchange: Any = None, policy: Any = None, delay_s: float = DELAY_S,
                 retry_s: float = RETRY_S, cache_root: Any = None) -> None:
        self.service = service
        self.symbols = [s for s in symbols if not is_synthetic_folder(s)]
        for skipped in sorted(set(symbols) - set(self.symbols)):
            log.warning(f"--follow: {skipped} is a synthetic market, which no exchange trades; not followed")
        self.exchange_id = exchange_id
        self.clock = clock
        self.wait = wait or (lambda seconds: time.sleep(seconds) or False)
        self._exchange = exchange
        self.policy = policy
        self.delay_s, self.retry_s = delay_s, retry_s
        self.cache_root = cache_root
        self.done: dict[str, int] = {}  # symbol -> open time (ns) of the newest candle forecast from
        self._failing: dict[str, str] = {}  # symbol -> the problem being reported (said once, and when it ends)

    def run(self) -> None:
        """Follow until ``wait`` says stop."""
        while True:
            pauses = [self.follow(symbol) for symbol in self.symbols]
            if self.wait(max(0.0, min(pauses, default=self.retry_s))):
                return

    def follow(self, symbol: str) -> float:
        """Forecast from the newest closed candle of ``symbol`` if not done yet; the seconds until the next look."""
        try:
            pause = self._follow(symbol)
        except Exception as exc:  # anything at all: warn, count, look again soon
            self.service.metrics.follow.labels(symbol, "error").inc()
            problem = " ".join(str(exc).split())[:300] or type(exc).__name__
            if self._failing.get(symbol) != problem:
                log.warning(f"--follow {symbol}: {problem}; trying again in {self.retry_s:g} s")
            self._failing[symbol] = problem
            return self.retry_s
        if symbol in self._failing and pause != self.retry_s:
            log.warning(f"--follow {symbol}: forecasting again")
            del self._failing[symbol]
        return pause

    def _follow(self, symbol: str) -> float:
        import pandas as pd

        from atb.data.exchange import download_candles  # deferred: pandas and ccxt load with the first look

        served = self.service.models.get(symbol)
        champion = served.champion.model if served else None
        if champion is None:
            return self.retry_s
        if champion.meta.synthetic:
            raise ModelError(f"the champion {champion.version} was trained on the synthetic market and cannot "
                             f"forecast the exchange's candles")
        step_ns = champion.step_ns
        now = self.clock()
        now_ns = int(now * NS)
        newest_closed = (now_ns // step_ns - 1) * step_ns  # open time of the newest candle closed by now
        until_next = ((newest_closed + 2 * step_ns) - now_ns) / NS + self.delay_s
        if self.done.get(symbol, -1) >= newest_closed:
            return until_next
        challenger = served.usable_challenger()
        if challenger is not None and challenger.meta.synthetic:
            challenger = None  # like the champion: no synthetic model on an exchange's candles
        history = max(champion.history_bars, challenger.history_bars if challenger else 0) + HISTORY_SLACK_BARS
        start = pd.Timestamp(newest_closed - history * step_ns, tz="UTC")
        result = download_candles(self.exchange_id, market_symbol(symbol), champion.timeframe, start,
                                  pd.Timestamp(newest_closed, tz="UTC"), exchange=self._exchange_object(),
                                  policy=self.policy, now=pd.Timestamp(now_ns, tz="UTC"), root=self.cache_root)
        candles = Candles.from_frame(result.candles)
        if int(candles.open_time[-1]) < newest_closed:  # the exchange has not published it yet
            return min(self.retry_s, until_next)
        created = self.clock()
        started = time.perf_counter()
        features = window_features(candles, step_ns, champion.history_bars)
        prediction = champion.forecast(candles, features)
        self.service.log.put(row(symbol, champion, "champion", prediction, created, time.perf_counter() - started,
                                 answered=False, source="follow"))
        if challenger is not None:
            shared = features if challenger.history_bars == champion.history_bars else None
            self.service.shadow_forecast(symbol, challenger, candles, shared, created, source="follow")
        self.done[symbol] = newest_closed
        self.service.metrics.follow.labels(symbol, "ok").inc()
        return until_next

    def _exchange_object(self) -> Any:
        """One ccxt exchange object for the life of the loop: its market list is loaded once."""
        if self._exchange is None:
            from atb.data.exchange import RetryPolicy, make_exchange

            self.policy = self.policy or RetryPolicy()
            self._exchange = make_exchange(self.exchange_id, self.policy)
        return self._exchange
