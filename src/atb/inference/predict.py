"""Next-close forecast from the newest candles with a registered model.onnx and its scaler."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from atb.data.timeframes import timeframe_delta
from atb.errors import DataError, ModelError
from atb.features.indicators import compute_features
from atb.features.scaler import Scaler
from atb.registry.store import read_metadata


@dataclass(frozen=True)
class Forecast:
    version: str
    last_candle: pd.Timestamp
    last_close: float
    target_time: pd.Timestamp
    predicted_close: float
    predicted_log_return: float


def forecast_next(version_dir: Path, candles: pd.DataFrame) -> Forecast:
    import onnxruntime as ort

    meta = read_metadata(version_dir)
    tp = meta["training_params"]
    length, timeframe, horizon = int(tp["sequence_length"]), tp["timeframe"], int(tp.get("horizon", 1))
    try:
        scaler = Scaler.from_dict(json.loads((version_dir / meta["artifacts"]["scaler"]).read_text()))
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"{version_dir}: cannot read the scaler ({exc})") from None

    feats = compute_features(candles, timeframe)
    if list(scaler.feature_names) != list(feats.columns):
        raise ModelError(f"{version_dir}: the model's features differ from this atb version's; retrain it")
    window = feats.to_numpy(np.float64)[-length:]
    times = candles["open_time"].iloc[-length:]
    if len(window) < length or not np.isfinite(window).all():
        raise DataError(
            f"the newest {length} candles do not form a complete window (too few candles or a gap within the "
            f"last {length + 60}); download or import the missing candles first"
        )
    if (times.diff().iloc[1:] != timeframe_delta(timeframe)).any():
        raise DataError(f"the newest {length} candles contain a gap; download or import the missing candles first")
    x = scaler.transform(window)[None, :, :]
    session = ort.InferenceSession(str(version_dir / meta["onnx"]["file"]), providers=["CPUExecutionProvider"])
    scaled = float(session.run(None, {session.get_inputs()[0].name: x})[0].reshape(-1)[0])
    log_return = scaled * scaler.target_std
    last_close = float(candles["close"].iloc[-1])
    last_time = candles["open_time"].iloc[-1]
    return Forecast(
        version=version_dir.name, last_candle=last_time, last_close=last_close,
        target_time=last_time + horizon * timeframe_delta(timeframe),
        predicted_close=last_close * float(np.exp(log_return)), predicted_log_return=log_return,
    )
