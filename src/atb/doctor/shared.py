"""Small helpers the checks share: the pipeline's feature function, time stamps, percentages."""

from __future__ import annotations

import pandas as pd

OFFENDERS = 5  # worst offenders listed per check


def pipeline_features(candles: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """The feature frame training builds its windows from: the function build_dataset calls, looked up when
    called, so that the doctor checks exactly what the pipeline uses."""
    from atb.features import dataset

    return dataset.compute_features(candles, timeframe)[dataset.FEATURES]


def when(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M")


def pct(ratio: float, digits: int = 1, sign: bool = False) -> str:
    if ratio != ratio:
        return "n/a"
    return f"{100 * ratio:+.{digits}f}%" if sign else f"{100 * ratio:.{digits}f}%"


def p_text(p: float | None) -> str:
    from atb.evaluation.metric_table import fmt_p

    return fmt_p(p)
