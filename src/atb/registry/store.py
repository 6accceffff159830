"""`<models_dir>/<SYMBOL>/price/<version>/` with model.safetensors, model.onnx, metadata.json, ...

Models of the synthetic market live under `<SYMBOL>-SYNTHETIC/price/` (see `registry_symbol`), so they never
become a real symbol's `latest`, the model `atb predict SYMBOL` would use on real candles.

A version is written into a hidden staging folder and renamed into place only when complete; `latest`
is a relative symlink swapped atomically (os.replace) after that. Staging folders left by a killed
run are removed by the next run once their process is gone.

`champion` is the version the prediction server answers with: a second relative symlink beside `latest`, created
from `latest` when a server first meets a symbol without one, and moved only by `atb ab promote`. Training,
benchmarks and searches move `latest`, never what production serves.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from atb.errors import ModelError
from atb.jsonio import dumps
from atb.registry.metadata import VersionMetadata
from atb.registry.version_id import numbered

MODEL_TYPE = "price"
LATEST = "latest"
CHAMPION = "champion"
POINTERS = (LATEST, CHAMPION)
STAGING_PREFIX = ".staging-"
REQUIRED_FILES = ("metadata.json", "model.onnx")
SYNTHETIC_SUFFIX = "-SYNTHETIC"


def registry_symbol(symbol: str, synthetic: bool) -> str:
    """The registry folder of a symbol's models: `BTCUSDT`, or `BTCUSDT-SYNTHETIC` for the synthetic market."""
    return f"{symbol}{SYNTHETIC_SUFFIX}" if synthetic else symbol


def is_synthetic_folder(folder: str) -> bool:
    return folder.upper().endswith(SYNTHETIC_SUFFIX)


def market_symbol(folder: str) -> str:
    """`BTCUSDT-SYNTHETIC` -> `BTCUSDT` (the symbol the market, and metadata.json, use)."""
    return folder[: -len(SYNTHETIC_SUFFIX)] if is_synthetic_folder(folder) else folder


@dataclass(frozen=True)
class VersionRef:
    symbol: str
    name: str
    path: Path
    is_latest: bool


class ModelStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def price_dir(self, symbol: str) -> Path:
        return self.root / symbol / MODEL_TYPE

    @contextmanager
    def staging(self, symbol: str) -> Iterator[Path]:
        """A fresh hidden folder to write a version into; removed if the block fails."""
        parent = self.price_dir(symbol)
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelError(f"cannot create the models directory {parent}: {exc.strerror}") from None
        self.remove_stale_staging(symbol)
        path = parent / f"{STAGING_PREFIX}{os.getpid()}-{datetime.now():%H%M%S%f}"
        try:
            path.mkdir()
        except OSError as exc:
            raise ModelError(f"cannot write to the models directory {parent}: {exc.strerror}") from None
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)  # after publish it no longer exists

    def publish(self, symbol: str, staged: Path, name: str) -> Path:
        """Rename the staged folder into place (never over another version) and point `latest` at it."""
        parent = self.price_dir(symbol)
        for copy in range(1, 101):
            target = parent / numbered(name, copy)
            if target.exists():
                continue
            _set_version_id(staged, target.name)
            try:
                os.rename(staged, target)  # atomic; fails if another run took the name meanwhile
            except OSError:
                if target.exists():
                    continue
                raise
            _point(parent, LATEST, target.name)
            return target
        raise ModelError(f"could not find a free version name for {name} in {parent}")

    def champion_name(self, symbol: str) -> str | None:
        return self._pointer(symbol, CHAMPION)

    def promote(self, symbol: str, version: str) -> str | None:
        """Point `champion` at a complete version (a name, or `latest`), atomically; returns the version it
        pointed at before."""
        if version in POINTERS:
            named = self._pointer(symbol, version)
            if named is None:
                raise ModelError(f"{symbol} has no '{version}' version in {self.price_dir(symbol)}")
            version = named
        if not version or "/" in version or version.startswith("."):
            raise ModelError(f"not a version folder name: {version!r} (see 'atb models list {symbol}')")
        self.resolve(symbol, version)  # ModelError for a missing or incomplete version
        previous = self.champion_name(symbol)
        _point(self.price_dir(symbol), CHAMPION, version)
        return previous

    def ensure_champion(self, symbol: str) -> str | None:
        """The champion's name; where there is none yet, `champion` is created from `latest` (None: no model)."""
        current = self.champion_name(symbol)
        if current is not None:
            return current
        latest = self.latest_name(symbol)
        if latest is None:
            return None
        _point(self.price_dir(symbol), CHAMPION, latest)
        return latest

    def remove_stale_staging(self, symbol: str) -> None:
        parent = self.price_dir(symbol)
        for path in parent.glob(f"{STAGING_PREFIX}*"):
            pid = path.name[len(STAGING_PREFIX):].split("-")[0]
            if pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)

    def symbols(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / MODEL_TYPE).is_dir())

    def versions(self, symbol: str) -> list[VersionRef]:
        parent = self.price_dir(symbol)
        if not parent.is_dir():
            return []
        latest = self.latest_name(symbol)
        return [
            VersionRef(symbol, p.name, p, p.name == latest)
            for p in sorted(parent.iterdir())
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
        ]

    def latest_name(self, symbol: str) -> str | None:
        return self._pointer(symbol, LATEST)

    def _pointer(self, symbol: str, pointer: str) -> str | None:
        try:
            return os.readlink(self.price_dir(symbol) / pointer)
        except OSError:  # no such link (or not a link)
            return None

    def resolve(self, symbol: str, version: str | None = None) -> Path:
        parent = self.price_dir(symbol)
        name = version or self.latest_name(symbol)
        if name is None:
            raise ModelError(self.no_model_message(symbol))
        path = parent / name
        if not path.is_dir():
            raise ModelError(f"model version {name!r} not found in {parent} (see 'atb models list {symbol}')")
        for required in REQUIRED_FILES:
            if not (path / required).is_file():
                raise ModelError(f"{path}: incomplete model version, {required} is missing")
        return path

    def no_model_message(self, symbol: str) -> str:
        message = f"no trained model for {symbol} in {self.price_dir(symbol)}"
        synthetic = registry_symbol(symbol, True)
        if not is_synthetic_folder(symbol) and self.latest_name(synthetic) is not None:
            return (f"{message}; models of the synthetic market are under {synthetic} "
                    f"(e.g. 'atb predict {synthetic} --data-source synthetic')")
        flag = " --data-source synthetic" if is_synthetic_folder(symbol) else ""
        return f"{message}; train one with 'atb train model {market_symbol(symbol)}{flag}'"


def _point(parent: Path, pointer: str, name: str) -> None:
    """Make `parent/pointer` a relative symlink to `name` by an atomic swap: readers see the old or the new one."""
    tmp = parent / f".{pointer}-{os.getpid()}-{threading.get_ident()}"
    tmp.unlink(missing_ok=True)
    os.symlink(name, tmp)  # relative, so the registry can be moved or mounted elsewhere
    os.replace(tmp, parent / pointer)


def _set_version_id(staged: Path, name: str) -> None:
    """Keep metadata.json's version_id equal to the folder name when a suffix had to be added."""
    path = staged / "metadata.json"
    if path.is_file():
        meta = VersionMetadata.from_json(json.loads(path.read_text()))
        if meta.version_id != name:
            meta.version_id = name
            write_metadata(path, meta)


def read_metadata(version_dir: Path) -> VersionMetadata:
    """A version's metadata.json; ModelError (one line) when it is missing or damaged."""
    path = Path(version_dir) / "metadata.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: not a JSON object")
    meta = VersionMetadata.from_json(data)
    if (key := meta.damaged_section()) is not None:
        raise ModelError(f"{path}: the '{key}' section is missing or damaged")
    return meta


def write_metadata(path: Path, meta: VersionMetadata) -> None:
    write_json(path, meta.to_json())


def write_json(path: Path, data: dict) -> None:
    # NaN stays NaN: metadata.json has always been written so (Python's json reads it back).
    path.write_text(dumps(data, strict=False) + "\n")


def process_alive(pid: int) -> bool:
    """Whether a process of this machine is alive (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
