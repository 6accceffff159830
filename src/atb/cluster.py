"""Connecting to an existing Ray cluster (the optional `distributed` extra: pip install -e ".[distributed]").

One door for every Ray path (tune trials, benchmark and grid jobs): `--ray ADDRESS` or `RAY_ADDRESS` names the
cluster; atb never starts one (ray.init costs ~7 s and ~0.8 GiB, DESIGN.md). Code reaches the workers in one of
two ways: atb installed on every node (the default, and what a local `ray start --head` has), or shipped by
Ray's runtime_env (`ATB_RAY_SHIP_CODE=1`: this process's `atb` package is uploaded as a py_module).
Only the driver publishes registry versions and writes the run log; workers send their artifacts back.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from types import ModuleType

from atb.errors import UsageError

INSTALL_HINT = 'pip install -e ".[distributed]"'


def ray_address(flag: str | None) -> str | None:
    """--ray ADDRESS, else RAY_ADDRESS, else None (run locally)."""
    return flag or os.environ.get("RAY_ADDRESS") or None


def import_ray() -> ModuleType:
    try:
        import ray  # deferred: ray takes seconds to import and is an optional extra
    except ImportError:
        raise UsageError(f"--ray needs Ray: {INSTALL_HINT}") from None
    return ray


def runtime_env() -> dict | None:
    """Ship this atb to the workers when asked (ATB_RAY_SHIP_CODE=1); else they import their own install."""
    if os.environ.get("ATB_RAY_SHIP_CODE", "") not in ("1", "true", "yes"):
        return None
    import atb

    return {"py_modules": [str(Path(atb.__file__).parent)]}


def connect(address: str) -> ModuleType:
    """ray, initialised against the cluster at `address` (host:port or ray://...); one-line UsageError when it
    cannot be reached."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    _check_reachable(address)
    try:
        ray.init(address=address, runtime_env=runtime_env(), log_to_driver=False, configure_logging=False,
                 include_dashboard=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot reach the Ray cluster at {address}: {first} (start one with 'ray start --head')"
                         ) from None
    return ray


def _check_reachable(address: str) -> None:
    """A fast one-line answer for a head that is not there (ray.init itself retries for a minute)."""
    if "://" in address or address == "auto":
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--ray {address}: expected HOST:PORT (e.g. 127.0.0.1:6379), ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        raise UsageError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} "
                         "(start one with 'ray start --head')") from None
