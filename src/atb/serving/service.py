"""One predict request, framework-free: route, read the candles, forecast, count, log, and hand the challenger's
shadow forecast to ``defer``, which runs it after the answer is sent (the app: `ShadowBatcher`, which scores the
pending shadow forecasts in one ONNX batch per challenger every few hundred milliseconds on the event loop; a
thread would fight the request path for the GIL, and one call per request costs every request). The FastAPI app
(app.py) is a thin layer over this."""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from atb.errors import AtbError
from atb.inference.forecaster import NS, Candles, OnnxForecaster, Prediction, window_features
from atb.serving.log_writer import PredictionLog
from atb.serving.metrics import Metrics
from atb.serving.models import ModelSet, ServedSymbol
from atb.serving.request import RequestError, check_candles, parse_candles

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class ShadowJob:
    """A challenger forecast owed for one answered request."""

    symbol: str
    model: OnnxForecaster
    candles: Candles
    features: np.ndarray | None  # the champion's window features when the histories match, else None
    created: float  # the answered forecast's created_at: both roles' rows share it


def routed_to_challenger(client_id: str | None, share: float) -> bool:
    """A stable share of client ids: the same id always lands on the same side (crc32 of the id, uniform
    enough for routing); no id, no challenger."""
    if not client_id or share <= 0:
        return False
    return zlib.crc32(client_id.encode("utf-8", "surrogatepass")) < share * 2**32


def utc_iso(ns: int) -> str:
    return datetime.fromtimestamp(int(ns) // NS, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class PredictionService:
    def __init__(self, models: ModelSet, metrics: Metrics, prediction_log: PredictionLog,
                 clock: Callable[[], float] = time.time) -> None:
        self.models = models
        self.metrics = metrics
        self.log = prediction_log
        self.clock = clock  # seconds since the epoch: the forecasts' created_at

    # --- the request path -------------------------------------------------------------------------------

    def predict(self, symbol: str, body: bytes, client_id: str | None = None, started: float | None = None,
                defer: Callable[[ShadowJob], object] | None = None) -> dict[str, Any]:
        """The answer to POST /v1/predict/{symbol}; RequestError for every other answer. ``defer`` receives the
        shadow forecast to run once the answer is out (default: run it before returning)."""
        started = time.perf_counter() if started is None else started
        served = self._served(symbol)
        champion = served.champion.model
        if champion is None:
            self.metrics.errors.labels(served.symbol, "", "champion", "503").inc()
            raise RequestError(503, f"no model loaded for {served.symbol}: {served.champion.problem or 'loading'}")
        challenger = served.usable_challenger()
        model, role = champion, "champion"
        if challenger is not None and served.challenger_mode == "split" and routed_to_challenger(
                client_id, served.challenger_share):
            model, role = challenger, "challenger"
        try:
            candles = parse_candles(body)
            if role == "challenger" and champion.min_candles <= len(candles) < challenger.min_candles:
                model, role = champion, "champion"  # enough candles for the champion only: it answers
            check_candles(candles, model.step_ns, model.timeframe, model.min_candles)
            features = window_features(candles, model.step_ns, model.history_bars)
            prediction = model.forecast(candles, features)
        except RequestError as exc:
            self.metrics.errors.labels(served.symbol, model.version, role, str(exc.status)).inc()
            raise
        except AtbError as exc:  # the candles pass the checks but give no complete window
            self.metrics.errors.labels(served.symbol, model.version, role, "422").inc()
            raise RequestError(422, str(exc)) from None
        created = self.clock()
        elapsed = time.perf_counter() - started
        self.metrics.requests.labels(served.symbol, model.version, role).inc()
        self.metrics.latency.labels(served.symbol, model.version, role).observe(elapsed)
        self.log.put(row(served.symbol, model, role, prediction, created, elapsed, answered=True, source="request"))
        if challenger is not None and served.challenger_mode == "shadow":
            shared = features if challenger.history_bars == model.history_bars else None
            job = ShadowJob(served.symbol, challenger, candles, shared, created)
            if defer is None:
                self.shadow_batch([job])
            else:
                defer(job)
        return answer(served.symbol, model.version, role, prediction)

    def _served(self, symbol: str) -> ServedSymbol:
        served = self.models.get(symbol.upper())
        if served is None:
            self.metrics.errors.labels("", "", "", "404").inc()  # no symbol label: any text could become one
            known = ", ".join(self.models.symbols) or "none"
            raise RequestError(404, f"unknown symbol {symbol[:40]!r}; this server serves: {known}")
        return served

    # --- the challenger in the shadow -----------------------------------------------------------------------

    def shadow_forecast(self, symbol: str, model: OnnxForecaster, candles: Candles, features: np.ndarray | None,
                        created: float, source: str = "request") -> Prediction | None:
        """The challenger's forecast, logged, never raised (a shadow failure must not touch the champion)."""
        done = self.shadow_batch([ShadowJob(symbol, model, candles, features, created)], source)
        return done[0] if done else None

    def shadow_batch(self, jobs: list[ShadowJob], source: str = "request") -> list[Prediction]:
        """The challenger forecasts of ``jobs``, one ONNX Runtime call per model, each logged; never raised: a job
        that fails (too few candles, no complete window, a model error) is counted and left out."""
        done: list[Prediction] = []
        by_model: dict[int, list[ShadowJob]] = {}
        for job in jobs:
            by_model.setdefault(id(job.model), []).append(job)
        for group in by_model.values():
            started = time.perf_counter()
            model, ready, windows = group[0].model, [], []
            for job in group:
                if len(job.candles) < model.min_candles:
                    self.metrics.shadow.labels(job.symbol, model.version, "skipped").inc()
                    continue
                try:
                    windows.append(model.live_window(job.candles, job.features))
                except Exception as exc:
                    self._shadow_failed(job, exc)
                    continue
                ready.append(job)
            if not ready:
                continue
            try:
                returns = model.predict(np.stack(windows))
            except Exception as exc:
                for job in ready:
                    self._shadow_failed(job, exc)
                continue
            elapsed = (time.perf_counter() - started) / len(ready)  # each row's share of the batch
            for job, log_return in zip(ready, returns, strict=True):
                prediction = model.prediction(job.candles, float(log_return))
                self.metrics.shadow.labels(job.symbol, model.version, "ok").inc()
                self.log.put(row(job.symbol, model, "challenger", prediction, job.created, elapsed, answered=False,
                                 source=source))
                done.append(prediction)
        return done

    def _shadow_failed(self, job: ShadowJob, exc: Exception) -> None:
        self.metrics.shadow.labels(job.symbol, job.model.version, "error").inc()
        log.debug(f"shadow forecast of {job.model.version} failed: {exc}")


def answer(symbol: str, version: str, role: str, prediction: Prediction) -> dict[str, Any]:
    return {
        "symbol": symbol, "version": version, "role": role, "last_close": prediction.last_close,
        "target_time": utc_iso(prediction.target_time), "predicted_return": prediction.log_return,
        "predicted_close": prediction.predicted_close,
    }


def row(symbol: str, model: OnnxForecaster, role: str, prediction: Prediction, created: float, elapsed: float, *,
        answered: bool, source: str) -> dict[str, Any]:
    """A served_predictions row (atb.tracking.schema.ServedPrediction)."""
    return {
        "created_at": datetime.fromtimestamp(created, tz=timezone.utc), "symbol": symbol,
        "version_id": model.version, "role": role, "answered": answered, "source": source,
        "timeframe": model.timeframe, "last_time": _utc(prediction.last_time),
        "target_time": _utc(prediction.target_time), "last_close": prediction.last_close,
        "predicted_return": prediction.log_return, "predicted_close": prediction.predicted_close,
        "latency_ms": 1000 * elapsed,
    }


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(int(ns) // NS, tz=timezone.utc)
