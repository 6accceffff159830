"""The one path from candles to forecasts: a registered version loaded once (metadata, scaler, ONNX Runtime
session), the last window's features from `features.indicators` (the code training uses), scaled with the
version's train-only scaler, through ONNX. `atb predict`, the prediction server and batch predictions all call
it; torch is never imported.

Only the newest candles matter for the last window: `feature_matrix` runs over at most ``history_bars`` of them
(the window plus ``FEATURE_MEMORY_BARS`` before it). TA-Lib's recursive indicators (EMA, RSI, MACD, ATR) never
quite forget the candle they were seeded on, but measured on BTCUSDT 1h, 250 bars before the window bring the
difference from the full history under 1e-7 of a feature's spread (60 bars: 0.16, 200 bars: 4e-6), below the
float32 rounding of the model's input; tests/unit/test_forecaster.py checks it against the training path.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from atb.data.timeframes import timeframe_seconds
from atb.errors import DataError, ModelError
from atb.features.indicators import FEATURES, WARMUP_BARS, feature_matrix
from atb.features.scaler import Scaler
from atb.registry.metadata import VersionMetadata
from atb.registry.store import read_metadata

FEATURE_MEMORY_BARS = 250  # candles before the window after which the features no longer depend on the start
NS = 1_000_000_000
BATCH = 512  # windows per ONNX Runtime call in batch predictions


@dataclass(frozen=True)
class Candles:
    """Candle columns, oldest first: open times as int64 nanoseconds since the epoch (UTC), prices float64."""

    open_time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.close)

    @classmethod
    def from_frame(cls, frame: Any) -> Candles:
        """From a candle DataFrame (atb.data.candles)."""
        times = frame["open_time"]
        ns = times.astype("int64").to_numpy() if len(times) else np.empty(0, np.int64)
        return cls(ns, *(frame[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume")))

    def tail(self, rows: int) -> Candles:
        if rows >= len(self):
            return self
        return Candles(*(column[-rows:] for column in self.columns()))

    def columns(self) -> tuple[np.ndarray, ...]:
        return self.open_time, self.open, self.high, self.low, self.close, self.volume


@dataclass(frozen=True)
class Prediction:
    """One forecast: from the candle opening at ``last_time`` (ns), for the candle opening at ``target_time``."""

    version: str
    last_time: int
    last_close: float
    target_time: int
    log_return: float

    @property
    def predicted_close(self) -> float:
        return self.last_close * math.exp(self.log_return)


def last_run_start(open_time: np.ndarray, step_ns: int) -> int:
    """Index of the first candle of the last run of consecutive candles (after the last gap)."""
    breaks = np.flatnonzero(np.diff(open_time) != step_ns)
    return int(breaks[-1]) + 1 if len(breaks) else 0


def window_features(candles: Candles, step_ns: int, rows: int) -> np.ndarray:
    """All FEATURES for the last ``rows`` candles (at most), restarted after the last gap as training does."""
    tail = candles.tail(rows)
    start = last_run_start(tail.open_time, step_ns)
    return feature_matrix(*(column[start:] for column in tail.columns()[1:]))


@dataclass
class OnnxForecaster:
    """A version loaded for forecasting. Immutable once loaded: the server swaps whole objects on reload."""

    path: Path
    meta: VersionMetadata
    scaler: Scaler
    session: Any  # onnxruntime.InferenceSession
    input_name: str
    columns: np.ndarray  # the scaler's features as indices into FEATURES
    sequence_length: int
    timeframe: str
    horizon: int

    @property
    def version(self) -> str:
        return self.path.name

    @property
    def step_ns(self) -> int:
        return timeframe_seconds(self.timeframe) * NS

    @property
    def min_candles(self) -> int:
        """The fewest consecutive candles that give one complete window: indicator warm-up plus the window."""
        return WARMUP_BARS + self.sequence_length

    @property
    def history_bars(self) -> int:
        """Candles that make the features those of the full history (see the module docstring); more are ignored."""
        return FEATURE_MEMORY_BARS + self.sequence_length

    @classmethod
    def load(cls, path: Path, threads: int = 1) -> OnnxForecaster:
        """ModelError (one line) for a version that is incomplete or unreadable."""
        from atb.models.runtime import onnx_session  # deferred: onnxruntime is heavy to import

        path = Path(path)
        meta = read_metadata(path)
        tp = meta.training_params
        try:
            length, timeframe, horizon = int(tp.sequence_length), str(tp.timeframe), tp.bars_ahead
            timeframe_seconds(timeframe)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{path}: metadata.json lacks the sequence length or timeframe ({exc})") from None
        except Exception as exc:  # an unknown timeframe
            raise ModelError(f"{path}: {exc}") from None
        try:
            scaler = Scaler.from_dict(json.loads((path / (meta.artifacts.scaler or "scaler.json")).read_text()))
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: cannot read the scaler ({exc})") from None
        unknown = [name for name in scaler.feature_names if name not in FEATURES]
        if unknown:
            raise ModelError(f"{path}: the model uses features this atb version does not compute "
                             f"({', '.join(unknown[:3])}); retrain it")
        onnx_file = path / (meta.onnx.file or "model.onnx")
        try:
            session = onnx_session(onnx_file, threads)
        except Exception as exc:  # onnxruntime raises its own types for a missing or damaged file
            raise ModelError(f"{onnx_file}: cannot load the ONNX model ({' '.join(str(exc).split())[:200]})") from None
        columns = np.array([FEATURES.index(name) for name in scaler.feature_names], dtype=np.intp)
        return cls(path, meta, scaler, session, session.get_inputs()[0].name, columns, length, timeframe, horizon)

    # --- the live path: the last window of the given candles ----------------------------------------------

    def scaled_window(self, features: np.ndarray) -> np.ndarray:
        """The model's input for the last window, (sequence_length, n_features) float32; DataError when the
        newest candles do not form a complete window (too few, or a gap within the last ``min_candles``)."""
        window = features[-self.sequence_length:, self.columns]
        if len(window) < self.sequence_length or not np.isfinite(window).all():
            raise DataError(f"the newest candles do not form a complete window: {self.min_candles} consecutive "
                            f"{self.timeframe} candles are needed ({WARMUP_BARS} of indicator warm-up and "
                            f"{self.sequence_length} of window), without a gap")
        return self.scaler.transform(window)

    def forecast(self, candles: Candles, features: np.ndarray | None = None) -> Prediction:
        """The next forecast from the newest candle. ``features``: ``window_features(candles, step_ns,
        history_bars)`` if the caller has them already (the server shares them between models of one history)."""
        x = self.live_window(candles, features)[None, :, :]
        return self.prediction(candles, float(self.predict(x)[0]))

    def live_window(self, candles: Candles, features: np.ndarray | None = None) -> np.ndarray:
        """The scaled input window of the newest candle (what `forecast` feeds the model; batches stack these)."""
        if len(candles) == 0:
            raise DataError("no candles")
        if features is None:
            features = window_features(candles, self.step_ns, self.history_bars)
        return self.scaled_window(features)

    def prediction(self, candles: Candles, log_return: float) -> Prediction:
        """The forecast of the bar after the newest candle, from the model's log return."""
        last_time = int(candles.open_time[-1])
        return Prediction(self.version, last_time, float(candles.close[-1]), last_time + self.horizon * self.step_ns,
                          log_return)

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Forecast log returns for scaled windows (batch, sequence_length, n_features), float64."""
        out = self.session.run(None, {self.input_name: np.ascontiguousarray(windows, dtype=np.float32)})[0]
        return np.asarray(out, np.float64).reshape(-1) * self.scaler.target_std

    # --- batch: every window of a candle frame -----------------------------------------------------------

    def forecast_frame(self, frame: Any, first_target: Any, last_target: Any) -> Any:
        """Forecasts for every target time in [first_target, last_target] whose window is complete, as a frame:
        target_time, last_close, predicted_close, actual_close (NaN where the target candle is not in ``frame``).
        Features over the whole frame by `compute_features` (restarted after each gap, like training)."""
        import pandas as pd  # deferred with the rest of the batch path

        from atb.features.indicators import compute_features

        frame = frame.reset_index(drop=True)
        raw = compute_features(frame, self.timeframe)[FEATURES].to_numpy(np.float64)[:, self.columns]
        times = frame["open_time"].astype("int64").to_numpy()
        close = frame["close"].to_numpy(np.float64)
        anchors = complete_windows(times, raw, self.step_ns, self.sequence_length)
        targets = times[anchors] + self.horizon * self.step_ns
        keep = (targets >= pd.Timestamp(first_target).value) & (targets <= pd.Timestamp(last_target).value)
        anchors, targets = anchors[keep], targets[keep]
        scaled = self.scaler.transform(raw)
        offsets = np.arange(-self.sequence_length + 1, 1)
        predicted = np.empty(len(anchors))
        for start in range(0, len(anchors), BATCH):
            part = anchors[start:start + BATCH]
            predicted[start:start + BATCH] = self.predict(scaled[part[:, None] + offsets])
        position = np.searchsorted(times, targets)
        found = (position < len(times)) & (times[np.minimum(position, len(times) - 1)] == targets)
        actual = np.where(found, close[np.minimum(position, len(times) - 1)], np.nan)
        last_close = close[anchors]
        return pd.DataFrame({
            "target_time": pd.to_datetime(targets, utc=True),
            "last_close": last_close,
            "predicted_close": last_close * np.exp(predicted),
            "actual_close": actual,
        })


def complete_windows(open_time: np.ndarray, features: np.ndarray, step_ns: int, length: int) -> np.ndarray:
    """Rows t whose window t-L+1..t holds finite features on consecutive candles (no target needed: the target
    may lie in the future)."""
    n = len(open_time)
    if n < length:
        return np.empty(0, np.intp)
    finite = np.isfinite(features).all(axis=1)
    run = np.concatenate([[0], np.cumsum(np.diff(open_time) != step_ns)])  # run id of each candle
    csum = np.concatenate([[0], np.cumsum(finite)])
    t = np.arange(length - 1, n)
    ok = ((csum[t + 1] - csum[t + 1 - length]) == length) & (run[t - length + 1] == run[t])
    return t[ok]
