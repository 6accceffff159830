"""Model registries for the prediction server's tests, made from the committed fixture version (no training,
no torch): copies of it under other names, optionally as a real market's model, optionally with another target
scale so that two versions give different forecasts."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd

from atb.data.synthetic import synthetic_candles

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "versions" / "2026-12-02_180708_cnn_lstm_lightweight"
CHAMPION = "2026-12-02_180708_cnn_lstm_lightweight"
CHALLENGER = "2026-12-03_090000_cnn_lstm_lightweight"


def add_version(root: Path, symbol: str, name: str, *, real: bool = False, scale: float = 1.0,
                latest: bool = True) -> Path:
    """A copy of the fixture version as ``root/symbol/price/name``; ``real``: metadata of a real market's model;
    ``scale``: multiplies the target scale (the forecast returns) so that the copy forecasts differently."""
    parent = root / symbol / "price"
    parent.mkdir(parents=True, exist_ok=True)
    target = parent / name
    shutil.copytree(FIXTURE, target)
    meta = json.loads((target / "metadata.json").read_text())
    meta["version_id"] = name
    if real:
        meta["data"].update(source="file:BTCUSDT_1h.csv", synthetic=False)
        meta["data"].pop("synthetic_params", None)
    (target / "metadata.json").write_text(json.dumps(meta))
    if scale != 1.0:
        scaler = json.loads((target / "scaler.json").read_text())
        scaler["target_std"] *= scale
        (target / "scaler.json").write_text(json.dumps(scaler))
    if latest:
        link = parent / "latest"
        link.unlink(missing_ok=True)
        os.symlink(name, link)
    return target


def registry(root: Path, symbol: str = "BTCUSDT-SYNTHETIC", *, real: bool = False, challenger: bool = True) -> Path:
    """``root`` with the fixture as champion (`latest`) and, optionally, a challenger that forecasts 1.5x the
    returns (added first, so `latest` names the champion)."""
    if challenger:
        add_version(root, symbol, CHALLENGER, real=real, scale=1.5, latest=False)
    add_version(root, symbol, CHAMPION, real=real)
    return root


def candles(bars: int = 400, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """The synthetic market the fixture was trained on (seed 7), ``bars`` candles up to ``end``."""
    kw = {"end": end} if end is not None else {}
    return synthetic_candles(bars, symbol="BTCUSDT", seed=7, ar_coef=0.1, **kw)


def body(frame: pd.DataFrame) -> dict:
    """A predict request's body: the candles with ISO open times."""
    rows = frame.assign(open_time=frame["open_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return {"candles": rows[["open_time", "open", "high", "low", "close", "volume"]].to_dict(orient="records")}
