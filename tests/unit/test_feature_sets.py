"""Feature sets (`--features`): the groups partition the 17 features in their old order, set names are
canonical, and a set changes a dataset's columns (and its scaler) but never its windows or targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from atb.data.synthetic import synthetic_candles
from atb.errors import UsageError
from atb.features.dataset import build_dataset
from atb.features.indicators import FEATURES, compute_features
from atb.features.sets import ABLATION_SETS, ALL, FEATURE_GROUPS, feature_names, groups_of, parse_feature_set
from atb.training.request import TrainRequest

# The model's input columns before feature sets existed: "all" must keep them, in this order (the pinned
# results and every saved model depend on it).
SEVENTEEN = ["log_return_1", "log_return_4", "log_return_24", "hl_range", "body", "upper_wick", "lower_wick",
             "log_volume_z", "sma_ratio_10", "sma_ratio_50", "ema_ratio_12", "ema_ratio_26", "rsi_14", "macd_hist",
             "bb_width_20", "atr_14", "volatility_24"]


def test_the_groups_partition_the_seventeen_features_in_their_order():
    assert FEATURES == SEVENTEEN == feature_names(ALL)
    grouped = [name for group in FEATURE_GROUPS.values() for name in group]
    assert grouped == FEATURES and len(set(grouped)) == len(grouped)
    assert list(compute_features(synthetic_candles(200, symbol="T"), "1h").columns) == FEATURES


@pytest.mark.parametrize(("text", "name", "columns"), [
    ("returns", "returns", SEVENTEEN[:3]),
    ("volume+returns", "returns+volume", [*SEVENTEEN[:3], "log_volume_z"]),
    (" Returns + Volume ", "returns+volume", [*SEVENTEEN[:3], "log_volume_z"]),
    ("indicators+returns", "returns+indicators", [*SEVENTEEN[:3], *SEVENTEEN[8:]]),
    ("returns+candle+volume+indicators", ALL, SEVENTEEN),
    ("all", ALL, SEVENTEEN),
])
def test_set_names_are_canonical_and_columns_keep_their_order(text, name, columns):
    assert parse_feature_set(text) == name
    assert feature_names(text) == columns


@pytest.mark.parametrize("text", ["prices", "returns+", "", "all+returns", "returns,volume"])
def test_an_unknown_set_is_one_usage_error_naming_the_groups(text):
    with pytest.raises(UsageError) as caught:
        parse_feature_set(text)
    assert "returns, candle, volume, indicators" in str(caught.value) and "\n" not in str(caught.value)


def test_the_ablation_sets_are_nested_poorest_first():
    groups = [set(groups_of(s)) for s in ABLATION_SETS]
    assert groups[0] < groups[1] < groups[2] and ABLATION_SETS[-1] == ALL


def test_a_train_request_canonicalises_its_set_and_refuses_an_unknown_one():
    req = TrainRequest(symbol="BTCUSDT", data_source="synthetic", features="volume+returns")
    req.validate()
    assert req.features == "returns+volume" and TrainRequest.features == ALL
    with pytest.raises(UsageError, match="unknown feature set 'ohlc'"):
        TrainRequest(symbol="BTCUSDT", data_source="synthetic", features="ohlc").validate()


def test_a_set_changes_the_columns_not_the_windows():
    candles = synthetic_candles(900, symbol="T", seed=5)
    first = candles["open_time"].iloc[300]
    full = build_dataset(candles, "1h", sequence_length=30, first_target_time=first)
    small = build_dataset(candles, "1h", sequence_length=30, first_target_time=first,
                          features=feature_names("returns"))
    assert small.feature_names == small.scaler.feature_names == SEVENTEEN[:3]
    assert small.features.shape == (len(candles), 3)
    for split in ("train", "validation", "test"):
        np.testing.assert_array_equal(small.anchors[split], full.anchors[split])
        pd.testing.assert_series_equal(small.target_times(split), full.target_times(split))
    np.testing.assert_array_equal(small.targets, full.targets)
    # The scaler is fitted per column on the same training rows: the shared columns scale identically.
    np.testing.assert_array_equal(small.features, full.features[:, :3])
    assert small.scaler.target_std == full.scaler.target_std
