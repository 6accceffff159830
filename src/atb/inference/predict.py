"""Next-close forecast from the newest candles with a registered model.onnx and its scaler."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from atb.data.timeframes import timeframe_delta
from atb.errors import ModelError
from atb.inference.forecaster import Candles, OnnxForecaster
from atb.registry.metadata import VersionMetadata
from atb.registry.store import registry_symbol

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
    """`now` (default: the clock) only dates the staleness warning. The forecast itself comes from
    `inference.forecaster`, the path the prediction server and batch predictions share."""
    model = OnnxForecaster.load(version_dir)
    synthetic = candles.attrs.get("source") == "synthetic"
    check_market(model.meta, version_dir.name, synthetic)
    prediction = model.forecast(Candles.from_frame(candles))
    last_time = candles["open_time"].iloc[-1]
    return Forecast(
        version=version_dir.name, last_candle=last_time, last_close=prediction.last_close,
        target_time=pd.Timestamp(prediction.target_time, tz="UTC"),
        predicted_close=prediction.predicted_close, predicted_log_return=prediction.log_return,
        warnings=staleness_warnings(model.meta, last_time, synthetic, now),
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
