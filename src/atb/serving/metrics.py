"""The server's Prometheus metrics (`GET /metrics`): requests, errors and latency by version and role, the
challenger's shadow forecasts, the prediction log's written and dropped rows, reloads and the follow loop.

Each app has its own registry (tests build many apps in one process). With several uvicorn workers,
PROMETHEUS_MULTIPROC_DIR is set before the workers start and `/metrics` adds up every worker's values.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        by_model = ["symbol", "version", "role"]
        self.requests = Counter("atb_predict_requests", "Predict requests answered with a forecast", by_model,
                                registry=r)
        self.errors = Counter("atb_predict_errors", "Predict requests answered with an error, by HTTP status",
                              [*by_model, "status"], registry=r)
        self.latency = Histogram("atb_predict_latency_seconds", "Time from the request to its answer", by_model,
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.shadow = Counter("atb_shadow_forecasts", "Challenger forecasts made off the response path, by outcome "
                              "(ok, error, skipped: too few candles for the challenger)",
                              ["symbol", "version", "outcome"], registry=r)
        self.log_rows = Counter("atb_prediction_log_rows", "Prediction log rows, by outcome (written, dropped)",
                                ["outcome"], registry=r)
        self.reloads = Counter("atb_model_reloads", "Model loads after a pointer or version folder changed, by "
                               "outcome", ["symbol", "role", "outcome"], registry=r)
        self.follow = Counter("atb_follow_forecasts", "Forecasts made at a bar close by --follow, by outcome",
                              ["symbol", "outcome"], registry=r)
        mode = {"multiprocess_mode": "liveall"} if multiprocess() else {}
        self.loaded = Gauge("atb_model_loaded", "1 for each loaded model version", ["symbol", "role", "version"],
                            registry=r, **mode)

    def render(self) -> bytes:
        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
