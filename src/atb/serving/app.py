"""The FastAPI app: GET /health, GET /models, POST /v1/predict/{symbol}, GET /metrics, OpenAPI at /docs.

`create_app(config)` builds a `Server` (models, metrics, prediction log, the predict service, the follow loop) and
starts it with the app's lifespan. Every error answer is `{"detail": "<one line>"}`; nothing ever answers with a
traceback. `app_from_env` is the factory each uvicorn worker calls when `atb serve --workers N` runs several.

No `from __future__ import annotations` here: FastAPI reads the endpoints' and dependencies' annotations at
run time.
"""

import hmac
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException

from atb import __version__
from atb.registry.store import ModelStore
from atb.serving import schemas
from atb.serving.config import CONFIG_ENV, ServeConfig
from atb.serving.follow import Follower
from atb.serving.log_writer import PredictionLog, Writer
from atb.serving.metrics import CONTENT_TYPE, Metrics
from atb.serving.models import ModelSet, ServedSymbol, Slot
from atb.serving.request import MAX_BODY_BYTES, RequestError
from atb.serving.service import PredictionService
from atb.serving.shadow import ShadowBatcher

log = logging.getLogger(__name__)

HEADLINE_METRICS = ("test_rmse", "naive_test_rmse", "rmse_skill_vs_naive", "directional_accuracy",
                    "directional_pt_p_value", "inference_ms_p50")


class Server:
    """Everything one worker process holds; `start`/`stop` run with the app's lifespan."""

    def __init__(self, config: ServeConfig, *, clock: Callable[[], float] = time.time,
                 follow_wait: Callable[[float], bool] | None = None, exchange: Any = None, policy: Any = None,
                 write: Writer | None = None, cache_root: Any = None) -> None:
        self.config = config
        store = ModelStore(config.models_dir)
        symbols = [s.upper() for s in config.symbols] if config.symbols else store.symbols()
        self.metrics = Metrics()
        self.models = ModelSet(store, symbols, pin=config.version, challenger=config.challenger,
                               threads=config.threads, metrics=self.metrics)
        self.log = PredictionLog(self.metrics, enabled=config.log_predictions, write=write)
        self.service = PredictionService(self.models, self.metrics, self.log, clock)
        self.shadow = ShadowBatcher(self.service.shadow_batch)
        self._stop = threading.Event()
        self.follower = Follower(self.service, symbols, config.exchange, clock=clock,
                                 wait=follow_wait or self._stop.wait, exchange=exchange, policy=policy,
                                 cache_root=cache_root) if config.follow else None
        self._follow_thread: threading.Thread | None = None

    def start(self) -> None:
        self.models.refresh()
        for served in self.models.symbols.values():
            for slot in served.slots():
                if slot.model is None:
                    log.warning(f"{slot.symbol} {slot.role}: {slot.problem}; answering 503 until a model loads")
        self.models.start(self.config.reload_interval_s)
        self.log.start()
        if self.follower is not None:
            self._follow_thread = threading.Thread(target=self.follower.run, name="atb-follow", daemon=True)
            self._follow_thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._follow_thread is not None:
            self._follow_thread.join(10)
        self.models.stop()
        self.log.stop()

    # --- documents --------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        models = [{"symbol": slot.symbol, "role": slot.role, "version": slot.model.version if slot.model else None,
                   "loaded": slot.model is not None} for served in self.models.symbols.values()
                  for slot in served.slots()]
        ready = bool(self.models.symbols) and all(s.champion.model is not None for s in self.models.symbols.values())
        return {"ready": ready, "models": models}

    def model_infos(self) -> list[dict[str, Any]]:
        return [_info(served, slot) for served in self.models.symbols.values() for slot in served.slots()]


def _info(served: ServedSymbol, slot: Slot) -> dict[str, Any]:
    info: dict[str, Any] = {"symbol": slot.symbol, "role": slot.role, "loaded": slot.model is not None,
                            "version": slot.model.version if slot.model else slot.pinned, "problem": slot.problem}
    if slot.role == "challenger":
        info.update(mode=served.challenger_mode, share=served.challenger_share)
    model = slot.model
    if model is None:
        return info
    meta, tp = model.meta, model.meta.training_params
    metrics = {key: meta.metric(key) for key in HEADLINE_METRICS}
    metrics["dm_p_one_sided_vs_naive"] = meta.evaluation_results.dm_vs_naive.p_value_one_sided
    info.update(architecture=tp.architecture, variant=tp.architecture_variant, timeframe=model.timeframe,
                horizon=model.horizon, sequence_length=model.sequence_length, min_candles=model.min_candles,
                recommended_candles=model.history_bars, synthetic=meta.synthetic, metrics=_finite(metrics))
    return info


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: a missing or undefined figure is null."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in values.items()}


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def create_app(config: ServeConfig, **server_options: Any) -> FastAPI:
    """The app over a new Server; ``server_options`` inject a clock, a fake exchange or a log writer (tests)."""
    server = Server(config, **server_options)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        server.start()
        server.shadow.start()
        try:
            yield
        finally:
            await server.shadow.stop()
            server.stop()

    app = FastAPI(title="atb prediction server", version=__version__, lifespan=lifespan,
                  description="Next-bar forecasts of registered atb models through ONNX Runtime. The champion "
                              "answers; a challenger is scored in the shadow or answers a stable share of clients.")
    app.state.server = server
    guard = [Depends(_key_check(config.api_key))] if config.api_key else []
    served = list(server.models.symbols)  # fixed for the server's life: /docs offers them

    @app.exception_handler(RequestError)
    async def request_error(_request: Request, exc: RequestError) -> JSONResponse:
        return _error(exc.status, exc.detail)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.warning(f"internal error: {type(exc).__name__}: {exc}")
        return _error(500, "internal error (see the server's log)")

    @app.get("/health", responses={
        200: schemas.json_response(schemas.HealthResponse, "Every champion is loaded."),
        503: schemas.json_response(schemas.HealthResponse, "Not every champion is loaded.")})
    async def health() -> JSONResponse:
        body = server.health()
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    @app.get("/models", dependencies=guard, responses={
        200: schemas.json_response(schemas.ModelsResponse, "The served versions."), 401: schemas.ERRORS[401]})
    async def models() -> JSONResponse:
        return JSONResponse({"models": server.model_infos()})

    # The path and header parameters are read from the request and only described here: a declared parameter
    # costs FastAPI a pydantic field (and its pydantic.v1 import at start-up) and a validation per request.
    parameters = [
        {"name": "symbol", "in": "path", "required": True, "description": "A served symbol (GET /models).",
         "schema": {"type": "string", **({"enum": served} if served else {})}},
        {"name": "X-Client-Id", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "Routes a stable share of clients to the challenger (--split)."},
    ]

    @app.post("/v1/predict/{symbol}", dependencies=guard,
              responses={200: schemas.json_response(schemas.PredictResponse, "The forecast."), **schemas.ERRORS},
              openapi_extra={"parameters": parameters, "requestBody": {"required": True, "content": {
                  "application/json": {"schema": schemas.PREDICT_REQUEST_SCHEMA}}}})
    async def predict(request: Request) -> Response:
        symbol, client_id = request.path_params["symbol"], request.headers.get("x-client-id")
        started = time.perf_counter()
        body = await _read_body(request)
        # The challenger's shadow forecast waits in server.shadow, scored in a batch off the response path.
        result = server.service.predict(symbol, body, client_id, started, defer=server.shadow.add)
        return Response(json.dumps(result), media_type="application/json")

    @app.get("/metrics", dependencies=guard, response_class=Response,
             responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {}}, "description": "Prometheus exposition"},
                        401: schemas.ERRORS[401]})
    async def metrics() -> Response:
        return Response(server.metrics.render(), media_type=CONTENT_TYPE)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            document.setdefault("components", {}).setdefault("schemas", {}).update(schemas.components())
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi
    return app


async def _read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it passes MAX_BODY_BYTES (announced or streamed)."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > MAX_BODY_BYTES:
        raise RequestError(413, f"the body is larger than {MAX_BODY_BYTES:,} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, f"the body is larger than {MAX_BODY_BYTES:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _key_check(expected: str) -> Callable[..., None]:
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The server's ATB_API_KEY.")

    def check(given: Annotated[str | None, Depends(header)] = None) -> None:
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise RequestError(401, "missing or wrong X-API-Key header")

    return check


def app_from_env() -> FastAPI:
    """uvicorn's factory in each worker of `atb serve --workers N` (the config travels as JSON)."""
    return create_app(ServeConfig.from_json(os.environ[CONFIG_ENV]))
