"""The API's documents as the OpenAPI schema shows them (/docs). Requests are not validated through these
models: the predict body is read straight into numpy columns (request.py), which is what keeps a 400-candle
request in a few milliseconds; the schema describes the same rules. Answers are not serialised through them
either, and routes name them by reference only (`json_response`): a route with a response model makes FastAPI
import pydantic.v1 (0.1-0.2 s of start-up); their JSON schemas are made when /openapi.json is first asked for."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from atb.serving.request import FIELDS, MAX_BODY_BYTES

_PRICE = {"type": "number", "exclusiveMinimum": 0}
CANDLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(FIELDS),
    "properties": {
        "open_time": {"type": "string", "format": "date-time", "example": "2026-01-01T00:00:00Z",
                      "description": "The candle's open time, ISO-8601 (UTC unless it names a zone)."},
        "open": _PRICE, "high": _PRICE, "low": _PRICE, "close": _PRICE,
        "volume": {"type": "number", "minimum": 0},
    },
}
PREDICT_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["candles"],
    "properties": {
        "candles": {
            "type": "array", "minItems": 1, "items": CANDLE_SCHEMA,
            "description": "Closed candles, oldest first, consecutive on the model's timeframe (no gap), at least "
                           "`min_candles` of them (GET /models); `recommended_candles` make the features those "
                           f"of the full history. Bodies above {MAX_BODY_BYTES:,} bytes are refused (413).",
        },
    },
}


class PredictResponse(BaseModel):
    symbol: str
    version: str = Field(description="The model version that answered.")
    role: str = Field(description="champion, or challenger (with --split).")
    last_close: float = Field(description="Close of the newest candle given.")
    target_time: str = Field(description="Open time of the candle forecast (the one after the newest given), UTC.")
    predicted_return: float = Field(description="Forecast log return, ln(predicted_close / last_close).")
    predicted_close: float


class ErrorResponse(BaseModel):
    detail: str = Field(description="One line: what was wrong.")


class ModelInfo(BaseModel):
    symbol: str
    role: str
    version: str | None
    loaded: bool
    problem: str | None = None
    architecture: str | None = None
    variant: str | None = None
    timeframe: str | None = None
    horizon: int | None = None
    sequence_length: int | None = None
    min_candles: int | None = Field(None, description="The fewest consecutive candles a request may send.")
    recommended_candles: int | None = Field(None, description="Candles that make the features equal those of "
                                                              "the full history (more are ignored).")
    synthetic: bool | None = None
    mode: str | None = Field(None, description="The challenger's: shadow or split.")
    share: float | None = Field(None, description="split: the share of client ids routed to the challenger.")
    metrics: dict[str, Any] = Field(default_factory=dict, description="Headline test metrics from metadata.json.")


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class HealthResponse(BaseModel):
    ready: bool = Field(description="Every served symbol has its champion loaded.")
    models: list[dict[str, Any]]


MODELS = (PredictResponse, ErrorResponse, ModelInfo, ModelsResponse, HealthResponse)


def json_response(model: type[BaseModel], description: str) -> dict[str, Any]:
    """An OpenAPI response whose JSON body is ``model`` (by reference; see `components`)."""
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}


def components() -> dict[str, Any]:
    """The JSON schemas of MODELS (and what they refer to), for the OpenAPI document's components."""
    out: dict[str, Any] = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


ERRORS: dict[int | str, dict[str, Any]] = {
    status: json_response(ErrorResponse, text) for status, text in {
        401: "Missing or wrong X-API-Key (when the server has ATB_API_KEY).",
        404: "Unknown symbol.",
        413: f"Body larger than {MAX_BODY_BYTES:,} bytes.",
        422: "Candles that are not enough, not numbers, NaN, non-positive, unsorted, duplicated or not consecutive.",
        503: "No model loaded for the symbol.",
    }.items()
}
