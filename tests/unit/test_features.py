"""Features are causal, windows never cross a gap, and the scaler sees the training split only."""

import numpy as np
import pandas as pd
import pytest

from atb.data.synthetic import synthetic_candles
from atb.features.causality import lookahead_features
from atb.features.dataset import build_dataset, split_anchors, valid_anchors
from atb.features.indicators import FEATURES, WARMUP_BARS, compute_features


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return synthetic_candles(600, symbol="TEST", seed=3)


def with_gap(candles: pd.DataFrame, at: int, length: int) -> pd.DataFrame:
    return candles.drop(index=range(at, at + length)).reset_index(drop=True)


def test_features_are_causal_by_truncation(candles):
    cuts = [WARMUP_BARS + 5, 200, 333, 599]
    assert lookahead_features(lambda c: compute_features(c, "1h"), candles, cuts) == []


def test_causality_check_catches_an_injected_lookahead_feature(candles):
    def leaky(c: pd.DataFrame) -> pd.DataFrame:
        feats = compute_features(c, "1h")
        feats["next_return"] = np.log(c["close"].shift(-1) / c["close"])  # reads the next candle
        return feats

    assert lookahead_features(leaky, candles, [200, 400]) == ["next_return"]


def test_features_are_finite_after_warmup_and_nan_before(candles):
    feats = compute_features(candles, "1h")
    assert list(feats.columns) == FEATURES
    assert feats.iloc[:WARMUP_BARS].isna().all().all()
    assert np.isfinite(feats.iloc[WARMUP_BARS:].to_numpy()).all()


def test_indicators_restart_after_a_gap(candles):
    gapped = with_gap(candles, 300, 5)
    feats = compute_features(gapped, "1h")
    assert feats.iloc[300 : 300 + WARMUP_BARS].isna().all().all()  # warm-up again after the gap
    assert np.isfinite(feats.iloc[300 + WARMUP_BARS :].to_numpy()).all()


def test_windows_never_span_a_gap(candles):
    gapped = with_gap(candles, 300, 5)
    feats = compute_features(gapped, "1h").to_numpy()
    length, horizon = 20, 1
    anchors = valid_anchors(gapped, feats, "1h", length, horizon)
    step = pd.Timedelta("1h")
    times = gapped["open_time"]
    for t in anchors:
        span = times.iloc[t - length + 1 : t + horizon + 1]
        assert (span.diff().iloc[1:] == step).all(), f"window at {t} crosses a gap"
    assert 299 not in anchors  # its target would be the first candle after the gap


def test_split_is_chronological_with_purge():
    parts = split_anchors(np.arange(100), (0.7, 0.15, 0.15), horizon=3)
    assert parts["train"][-1] < parts["validation"][0] - 2  # horizon-1 = 2 samples purged
    assert parts["validation"][-1] < parts["test"][0] - 2
    assert len(parts["train"]) == 70


def test_scaler_is_fitted_on_the_training_split_only(candles):
    first = candles["open_time"].iloc[200]
    base = build_dataset(candles, "1h", sequence_length=20, first_target_time=first)
    changed = candles.copy()
    last_train = base.anchors["train"][-1]
    changed.loc[last_train + 5 :, ["open", "high", "low", "close"]] *= 3.0  # change only the future
    again = build_dataset(changed, "1h", sequence_length=20, first_target_time=first)
    np.testing.assert_allclose(again.scaler.mean, base.scaler.mean)
    np.testing.assert_allclose(again.scaler.std, base.scaler.std)
    assert again.scaler.target_std == base.scaler.target_std


def test_days_count_target_times_of_all_splits(candles):
    first = candles["open_time"].iloc[-168]  # 7 days of 1h target times
    ds = build_dataset(candles, "1h", sequence_length=30, first_target_time=first)
    n = sum(len(v) for v in ds.anchors.values())
    assert n == 168
    assert ds.split_info("test")["end"] == candles["open_time"].iloc[-1].strftime("%Y-%m-%dT%H:%M:%SZ")
