"""Next-close forecast from the newest candles with a registered model.onnx and its scaler."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from atb.data.sources import SYNTHETIC
from atb.data.timeframes import timeframe_delta
from atb.errors import DataError, ModelError
from atb.features.indicators import compute_features
from atb.features.scaler import Scaler
from atb.features.sets import unknown_features
from atb.registry.metadata import VersionMetadata
from atb.registry.store import read_metadata, registry_symbol

STALE_BARS = 2  # a newest candle older than this: the forecast is no longer for the coming candle
OUT_OF_SAMPLE_DAYS = 30  # candles this long after the test split: the model's scores describe another market


@dataclass(frozen=True)
class Forecast:
    version: str
    last_candle: pd.Timestamp
    last_close: float
    target_time: pd.Timestamp
    predicted_close: float
    predicted_log_return: float
    warnings: tuple[str, ...] = ()  # for the caller to show; the forecast stands


def check_market(meta: VersionMetadata, version: str, synthetic_candles: bool) -> None:
    """ModelError unless the candles come from the kind of market (synthetic or real) the model was fitted on."""
    symbol = meta.symbol or "the symbol"
    synthetic_model = bool(meta.synthetic)
    if synthetic_model and not synthetic_candles:
        raise ModelError(f"{version} was trained on the synthetic market and cannot forecast real {symbol} candles; "
                         f"use --data-source synthetic, or a model trained on real candles")
    if synthetic_candles and not synthetic_model:
        raise ModelError(f"{version} was trained on real {symbol} candles, not on the synthetic market; use a "
                         f"model of {registry_symbol(symbol, True)} for synthetic candles")


def forecast_next(version_dir: Path, candles: pd.DataFrame, now: pd.Timestamp | None = None) -> Forecast:
    """`now` (default: the clock) only dates the staleness warning."""
    import onnxruntime as ort  # deferred: heavy to import, and `atb predict` loads this module to start with

    meta = read_metadata(version_dir)
    synthetic = candles.attrs.get("source") == SYNTHETIC
    check_market(meta, version_dir.name, synthetic)
    tp = meta.training_params
    length, timeframe, horizon = int(tp.sequence_length), tp.timeframe, tp.bars_ahead
    try:
        scaler = Scaler.from_dict(json.loads((version_dir / (meta.artifacts.scaler or "scaler.json")).read_text()))
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"{version_dir}: cannot read the scaler ({exc})") from None

    # The version's own columns (its feature set), in its order: scaler.json names them.
    unknown = unknown_features(list(scaler.feature_names))
    if unknown:
        raise ModelError(f"{version_dir}: the model's features {', '.join(unknown)} are not computed by this atb "
                         "version; retrain it")
    feats = compute_features(candles, timeframe)[list(scaler.feature_names)]
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
    onnx_file = version_dir / (meta.onnx.file or "model.onnx")
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    scaled = float(session.run(None, {session.get_inputs()[0].name: x})[0].reshape(-1)[0])
    log_return = scaled * scaler.target_std
    last_close = float(candles["close"].iloc[-1])
    last_time = candles["open_time"].iloc[-1]
    return Forecast(
        version=version_dir.name, last_candle=last_time, last_close=last_close,
        target_time=last_time + horizon * timeframe_delta(timeframe),
        predicted_close=last_close * float(np.exp(log_return)), predicted_log_return=log_return,
        warnings=staleness_warnings(meta, last_time, synthetic, now),
    )


def staleness_warnings(meta: VersionMetadata, last_candle: pd.Timestamp, synthetic: bool,
                       now: pd.Timestamp | None = None) -> tuple[str, ...]:
    """Old candles (the forecast is not for the coming candle) and candles long after the model's test split."""
    timeframe, symbol = meta.training_params.timeframe, meta.symbol or "SYMBOL"
    step = timeframe_delta(timeframe)
    out = []
    # The synthetic market ends on a fixed date: there is no "now" to be behind.
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    if not synthetic and now - last_candle > STALE_BARS * step:
        bars = int((now - last_candle) / step)
        out.append(f"the newest candle opened {last_candle:%Y-%m-%d %H:%M} UTC, {bars} bars ({timeframe}) before "
                   f"now: this forecast is not for the coming candle; update the candles first (e.g. 'atb data "
                   f"download {symbol} --timeframe {timeframe} --days 7')")
    test_end = _test_end(meta)
    if test_end is not None and last_candle - test_end > pd.Timedelta(days=OUT_OF_SAMPLE_DAYS):
        out.append(f"the newest candle is {(last_candle - test_end).days} days after the end of this model's test "
                   f"split ({test_end:%Y-%m-%d}): its test scores describe an older market; consider retraining")
    return tuple(out)


def _test_end(meta: VersionMetadata) -> pd.Timestamp | None:
    try:
        end = pd.Timestamp(meta.data.test.end) if meta.data.test.end else None
    except (TypeError, ValueError):
        return None  # an unreadable date only costs the warning
    return end.tz_localize("UTC") if end is not None and end.tzinfo is None else end
