"""What `atb serve` was asked to do, in one value that travels to every uvicorn worker (as JSON)."""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from atb.errors import UsageError

API_KEY_ENV = "ATB_API_KEY"
CONFIG_ENV = "ATB_SERVE_CONFIG"  # how a uvicorn worker process receives the config
MODES = ("shadow", "split")


@dataclass(frozen=True)
class Challenger:
    version: str
    mode: str  # "shadow": scored on every request off the response path; "split": answers a share of clients
    share: float = 1.0  # split: the share of client ids routed to the challenger


@dataclass(frozen=True)
class ServeConfig:
    models_dir: Path
    symbols: tuple[str, ...] | None = None  # None: every symbol in the registry
    version: str | None = None  # pins the champion instead of the `champion` pointer
    challenger: Challenger | None = None
    follow: bool = False  # forecast every bar close from the exchange (through the cache)
    exchange: str = "binance"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    api_key: str | None = None  # never written by to_json: workers read it from the environment
    reload_interval_s: float = 1.0
    log_predictions: bool = True
    threads: int = 1  # ONNX Runtime threads per session: one window is too small to share between cores

    def to_json(self) -> str:
        data = asdict(self)
        data.update(models_dir=str(self.models_dir), api_key=None)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        data = json.loads(text)
        challenger = Challenger(**data.pop("challenger")) if data.get("challenger") else None
        symbols = tuple(data.pop("symbols")) if data.get("symbols") else None
        data.pop("challenger", None), data.pop("symbols", None)
        config = cls(models_dir=Path(data.pop("models_dir")), symbols=symbols, challenger=challenger, **data)
        return replace(config, api_key=os.environ.get(API_KEY_ENV) or None)


def parse_split(text: str) -> Challenger:
    """`P:VERSION` with P a share in (0, 1) or a percentage (`0.2:V`, `20%:V`)."""
    share_text, sep, version = text.partition(":")
    if not sep or not version.strip():
        raise UsageError(f"--split takes P:VERSION (e.g. 0.2:2026-11-26_184312_tcn_default), got {text!r}")
    try:
        share = float(share_text.rstrip("%")) / (100 if share_text.endswith("%") else 1)
    except ValueError:
        raise UsageError(f"--split: cannot read the share {share_text!r}; use e.g. 0.2 or 20%") from None
    if not 0 < share < 1:
        raise UsageError(f"--split: the challenger's share must be between 0 and 1 (exclusive), got {share_text}")
    return Challenger(version.strip(), "split", share)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str | None) -> None:
    """Another host than loopback makes the server reachable from the network: only with an API key."""
    if not is_loopback(host) and not api_key:
        raise UsageError(f"refusing to listen on {host} without an API key: set {API_KEY_ENV} (clients then send "
                         f"it in the X-API-Key header), or keep the default --host 127.0.0.1")
