"""The features' names in groups, and feature sets: which groups a model is given (`--features`).

A set is named by its groups joined with "+" (``returns``, ``returns+volume``), or ``all`` (every group: the
17 features every model had before sets existed, and still the default). Names are canonical: groups in
their declared order, every group spelled ``all``; a set's columns keep FEATURES' order.

The ablation asks whether the technical indicators help. Its sets are ``returns`` (past returns alone),
``returns+volume`` and ``all``; "the indicators" are what ``all`` adds to ``returns+volume``: the candle's
shape and the TA-Lib indicators, every feature that is not a past return or the volume.

Windows do not depend on the set (atb.features.dataset checks every feature, used or not), so models of
different sets are scored on the same target times. This module imports nothing heavy: `atb --help` lists the
groups.
"""

from __future__ import annotations

from atb.errors import UsageError

# Every feature's name, in its group (computed in atb.features.indicators). FEATURES, the input columns of a model
# of the set "all", is the groups' concatenation in this order.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "returns": ("log_return_1", "log_return_4", "log_return_24"),  # past log returns of close
    "candle": ("hl_range", "body", "upper_wick", "lower_wick"),  # the bar's shape (high-low range, body, wicks)
    "volume": ("log_volume_z",),  # log volume as a z-score over the last 24 bars
    "indicators": (  # TA-Lib: trend (SMA/EMA ratios, MACD), momentum (RSI), volatility (Bollinger, ATR, std)
        "sma_ratio_10", "sma_ratio_50", "ema_ratio_12", "ema_ratio_26", "rsi_14", "macd_hist", "bb_width_20",
        "atr_14", "volatility_24",
    ),
}
FEATURES = [name for group in FEATURE_GROUPS.values() for name in group]

ALL = "all"
ABLATION_SETS = ("returns", "returns+volume", ALL)  # poorest first


def parse_feature_set(text: str) -> str:
    """The canonical name of a set given as ``all`` or groups joined with "+"; UsageError names the choices."""
    parts = [p.strip().lower() for p in str(text).split("+")]
    if parts == [ALL]:
        return ALL
    unknown = [p for p in parts if p not in FEATURE_GROUPS]
    if unknown:
        raise UsageError(f"unknown feature set {text!r}: use {ALL} or groups joined with '+' "
                         f"({', '.join(FEATURE_GROUPS)}), e.g. returns+volume")
    groups = [g for g in FEATURE_GROUPS if g in parts]
    return ALL if len(groups) == len(FEATURE_GROUPS) else "+".join(groups)


def feature_names(feature_set: str) -> list[str]:
    """The set's columns, in FEATURES' order."""
    name = parse_feature_set(feature_set)
    if name == ALL:
        return list(FEATURES)
    wanted = {f for g in name.split("+") for f in FEATURE_GROUPS[g]}
    return [f for f in FEATURES if f in wanted]


def groups_of(feature_set: str) -> tuple[str, ...]:
    name = parse_feature_set(feature_set)
    return tuple(FEATURE_GROUPS) if name == ALL else tuple(name.split("+"))


def unknown_features(names: list[str]) -> list[str]:
    """Names that atb does not compute (a version saved by another atb): such a model cannot be fed."""
    return [n for n in names if n not in FEATURES]
