"""`atb serve`: the prediction server (FastAPI + uvicorn over ONNX Runtime; no torch)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from dataclasses import replace

import typer

from atb import interrupts
from atb.cli import options as opt
from atb.cli.console import out
from atb.config import models_dir as default_dir
from atb.errors import UsageError
from atb.training.request import TrainRequest


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; another than loopback needs "
                                                         "ATB_API_KEY."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    symbols: str | None = typer.Option(None, "--symbols", help="Comma list of registry symbols to serve, e.g. "
                                                               "BTCUSDT,ETHUSDT (default: every one with a model)."),
    models_dir: opt.ModelsDir = None,
    version: str | None = typer.Option(None, "--version", "-v", help="Serve this version instead of each "
                                                                     "symbol's champion pointer."),
    shadow: str | None = typer.Option(None, "--shadow", help="Challenger VERSION scored on every request, off the "
                                                             "response path."),
    split: str | None = typer.Option(None, "--split", help="P:VERSION: the challenger answers a share P of the "
                                                           "clients (stable hash of the X-Client-Id header)."),
    follow: bool = typer.Option(False, "--follow", help="Forecast every bar close from the exchange (through the "
                                                        "cache) and log it."),
    exchange: opt.Exchange = TrainRequest.exchange,
    workers: int = typer.Option(1, "--workers", help="uvicorn worker processes."),
    reload_interval: float = typer.Option(1.0, "--reload-interval", help="Seconds between looks at the champion "
                                                                         "pointer and version folders."),
    no_db: opt.NoDb = False,
) -> None:
    """Serve forecasts over HTTP: POST /v1/predict/SYMBOL, GET /models, /health, /metrics, OpenAPI at /docs.

    The champion answers (a `champion` pointer beside `latest`, moved only by `atb ab promote`); hot reload picks
    up a promotion within about a second."""
    from atb.registry.store import ModelStore
    from atb.serving.config import API_KEY_ENV, Challenger, ServeConfig, check_exposure, parse_split

    api_key = os.environ.get(API_KEY_ENV) or None
    check_exposure(host, api_key)
    if shadow and split:
        raise UsageError("--shadow and --split are two ways to run one challenger: give one of them")
    if not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {port}")
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if reload_interval < 0:
        raise UsageError(f"--reload-interval must be >= 0 seconds, got {reload_interval}")
    challenger = Challenger(shadow, "shadow") if shadow else parse_split(split) if split else None
    store = ModelStore(models_dir or default_dir())
    served = [s.strip().upper() for s in symbols.split(",") if s.strip()] if symbols else store.symbols()
    if not served:
        raise UsageError(f"no models in {store.root}; train one first ('atb train model BTCUSDT ...'), or point "
                         "--models-dir at a registry")
    _check_versions(store, served, version, challenger)
    config = ServeConfig(models_dir=store.root.absolute(), symbols=tuple(served), version=version,
                         challenger=challenger, follow=follow, exchange=exchange, host=host, port=port,
                         workers=workers, api_key=api_key, reload_interval_s=reload_interval, log_predictions=not no_db)
    _check_port(host, port)
    out.print(_banner(config, store), highlight=False)
    _run(config)


def _check_versions(store, served: list[str], version: str | None, challenger) -> None:
    if version:
        lacking = [s for s in served if not (store.price_dir(s) / version).is_dir()]
        if lacking:
            raise UsageError(f"--version {version} is not a version of {', '.join(lacking)} in {store.root} (see "
                             f"'atb models list'); name the symbols that have it with --symbols")
    if challenger and not any((store.price_dir(s) / challenger.version).is_dir() for s in served):
        raise UsageError(f"challenger {challenger.version} is not a version of {', '.join(served)} in {store.root} "
                         f"(see 'atb models list')")


def _check_port(host: str, port: int) -> None:
    """A port in use is one line now, not a uvicorn log line after start-up."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _banner(config, store) -> str:
    lines = [f"atb serve: http://{config.host}:{config.port} (OpenAPI: /docs) · {config.workers} worker(s) · "
             f"models in {store.root}"]
    for symbol in config.symbols:
        champion = config.version or store.champion_name(symbol) or store.latest_name(symbol)
        pointer = "pinned" if config.version else "champion pointer"
        line = f"  {symbol}: {champion or 'no model yet (503 until one is trained)'} ({pointer})"
        if config.challenger and (store.price_dir(symbol) / config.challenger.version).is_dir():
            mode = config.challenger.mode
            share = f" {config.challenger.share:.0%} of clients" if mode == "split" else ""
            line += f"; challenger {config.challenger.version} ({mode}{share})"
        lines.append(line)
    if config.follow:
        lines.append(f"  following {config.exchange}: a forecast at every bar close")
    lines.append("  forecasts are logged to the run-log database" if config.log_predictions else
                 "  prediction log off (--no-db or ATB_DB=off)")
    lines.append("Ctrl-C stops.")
    return "\n".join(lines)


def _run(config) -> None:
    import uvicorn  # deferred: only this command needs it

    from atb.serving.config import CONFIG_ENV
    from atb.tracking.settings import logging_enabled

    config = replace(config, log_predictions=config.log_predictions and logging_enabled())
    common = dict(host=config.host, port=config.port, log_level="warning", access_log=False, lifespan="on",
                  timeout_graceful_shutdown=5, server_header=False)
    scratch = None
    try:
        if config.workers == 1:
            from atb.serving.app import create_app

            uvicorn.run(create_app(config), **common)
        else:
            os.environ[CONFIG_ENV] = config.to_json()
            # Each worker counts in its own process; Prometheus' multiprocess mode adds them up for /metrics.
            if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                scratch = tempfile.mkdtemp(prefix="atb-metrics-")
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = scratch
            uvicorn.run("atb.serving.app:app_from_env", factory=True, workers=config.workers, **common)
    except KeyboardInterrupt:
        pass  # uvicorn has shut down gracefully and passes the signal on: stopping is how a server ends
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    interrupts.received = None
    out.print("atb serve: stopped", highlight=False)
