"""Property-based: on random candle series with random gaps, features and windows are never NaN/inf,
never cross a gap and never read a future candle."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atb.features.causality import lookahead_features
from atb.features.dataset import valid_anchors
from atb.features.indicators import compute_features


@st.composite
def gapped_candles(draw) -> pd.DataFrame:
    n = draw(st.integers(80, 260))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1e-4, 5e-3, 5e-2]))  # calm to violent markets
    close = 100 * np.exp(np.cumsum(rng.standard_t(3, n) * scale))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, scale, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, scale, n))
    volume = rng.choice([0.0, 1.0, 50.0], n) * rng.uniform(0, 2, n)  # zero-volume candles happen
    hours = np.arange(n)
    for _ in range(draw(st.integers(0, 4))):  # gaps: shift everything after a point later
        at, length = draw(st.integers(1, n - 1)), draw(st.integers(1, 40))
        hours[at:] += length
    times = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(hours, unit="h")
    return pd.DataFrame({"open_time": times, "open": open_, "high": high, "low": low, "close": close,
                         "volume": volume})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(candles=gapped_candles(), length=st.integers(2, 40), horizon=st.integers(1, 3), cut=st.floats(0.3, 0.95))
def test_windows_are_finite_contiguous_and_causal(candles, length, horizon, cut):
    feats = compute_features(candles, "1h").to_numpy()
    anchors = valid_anchors(candles, feats, "1h", length, horizon)
    times = candles["open_time"].to_numpy()
    hour = np.timedelta64(1, "h")
    for t in anchors:
        window = feats[t - length + 1 : t + 1]
        assert np.isfinite(window).all()
        span = times[t - length + 1 : t + horizon + 1]
        assert (np.diff(span) == hour).all(), "a window or its target crosses a gap"
    k = max(2, int(len(candles) * cut))
    assert lookahead_features(lambda c: compute_features(c, "1h"), candles, [k]) == []
