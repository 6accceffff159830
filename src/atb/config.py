"""Where atb keeps things: data cache, model registry and run log, each overridable by environment."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = "data"
DEFAULT_MODELS_DIR = "src/ml/models"  # the guide's path, relative to the working directory


def data_dir() -> Path:
    return Path(os.environ.get("ATB_DATA_DIR", DEFAULT_DATA_DIR))


def models_dir(override: str | Path | None = None) -> Path:
    if override:
        return Path(override)
    return Path(os.environ.get("ATB_MODELS_DIR", DEFAULT_MODELS_DIR))
