"""The prediction server survives generated requests: from its own OpenAPI schema (schemathesis: no 5xx, only
documented status codes, answers that match their documented schema), and valid bodies with one value replaced
by anything JSON can hold (200 or 422, never 5xx). Bounded: a fixed number of examples, no database.

schemathesis' pytest plugin (`schema.parametrize`, `from_fixture`) does not run under pytest 9 here (it reads a
private attribute pytest dropped), so its strategies are driven by hypothesis directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from atb.serving.app import create_app
from atb.serving.config import ServeConfig
from fakes.serving import body, candles, registry

EXAMPLES = 60  # per operation
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    root: Path = registry(tmp_path_factory.mktemp("fuzz") / "models")
    served = create_app(ServeConfig(models_dir=root, log_predictions=False, reload_interval_s=0))
    with TestClient(served):  # runs the lifespan: models loaded
        yield served


def operations(app) -> dict:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return {op.label: op for op in (result.ok() for result in schema.get_all_operations())}


@pytest.mark.parametrize("label", ["POST /v1/predict/{symbol}", "GET /models", "GET /health", "GET /metrics"])
def test_requests_from_the_openapi_schema_get_no_5xx(app, label: str) -> None:
    operation = operations(app)[label]
    statuses = set()

    @BOUNDED
    @given(case=operation.as_strategy())
    def check(case) -> None:
        response = case.call()
        statuses.add(response.status_code)
        case.validate_response(response, checks=CHECKS)

    check()
    assert statuses and max(statuses) < 500
    if label.startswith("POST"):
        assert 422 in statuses  # the served symbols are in the schema: bodies reach the candle checks


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                                            max_size=2))
FIELDS = ["open_time", "open", "high", "low", "close", "volume"]


def test_one_bad_value_in_a_valid_body_is_a_4xx(app) -> None:
    valid = body(candles(120))
    url = "/v1/predict/BTCUSDT-SYNTHETIC"
    client = TestClient(app)  # the fixture's client runs the lifespan
    assert client.post(url, json=valid).status_code == 200

    @BOUNDED
    @given(index=st.integers(0, 119), field=st.sampled_from(FIELDS), value=JSON_VALUES)
    def check(index: int, field: str, value: object) -> None:
        doc = json.loads(json.dumps(valid))
        doc["candles"][index][field] = value
        response = client.post(url, content=json.dumps(doc).encode(), headers={"Content-Type": "application/json"})
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:
            detail = response.json()["detail"]
            assert isinstance(detail, str) and "\n" not in detail

    check()
