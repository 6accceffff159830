"""The truncation test for look-ahead: a causal feature's value at row t is the same whether or not
the candles after t exist. Used by the tests on every feature, and usable on any new feature code."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

FeatureFn = Callable[[pd.DataFrame], pd.DataFrame]


def lookahead_features(feature_fn: FeatureFn, candles: pd.DataFrame, cuts: list[int],
                       atol: float = 1e-9) -> list[str]:
    """Names of the features whose values up to a cut change when the candles after the cut are removed."""
    full = feature_fn(candles)
    leaking: set[str] = set()
    for cut in cuts:
        part = feature_fn(candles.iloc[:cut].copy())
        a = full.iloc[:cut].to_numpy(np.float64)
        b = part.to_numpy(np.float64)
        same = np.isclose(a, b, atol=atol, rtol=0) | (np.isnan(a) & np.isnan(b))
        leaking.update(col for col, ok in zip(full.columns, same.all(axis=0), strict=True) if not ok)
    return sorted(leaking)
