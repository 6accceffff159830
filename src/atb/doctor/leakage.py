"""Leakage: the pipeline's features must be causal on the user's own candles (the truncation test: removing the
candles after a cut changes no value before it), and a deliberately leaked input must set off an alarm.

The canary plants the target in the window twice: as a feature column holding the next bar's return, which the
truncation test must name; and in the candles themselves (each volume carries the next bar's return, see
markets.plant_leak), where no code looks ahead and only the score can tell: a model trained on them through
the pipeline must be flagged "too good to be true" (signal.too_good: beyond the best possible forecast)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from atb.doctor.result import CheckResult, Status
from atb.doctor.runs import Score
from atb.doctor.shared import pct, pipeline_features
from atb.doctor.signal import figures_line, too_good

CAUSAL_ROWS = 2000  # the newest candles the truncation test runs on
CUTS = 8  # evenly spaced cuts, plus cuts just after each gap in those candles
CANARY_COLUMN = "canary_next_return"
# On real 1h crypto returns, a directional accuracy above this is not skill but a leak (atb's audit of real versions).
REAL_ACCURACY_BOUND = 60.0
REAL_SKILL_BOUND = 0.10  # RMSE skill vs naive persistence above this on real returns: too good to be true


def truncation_cuts(candles: pd.DataFrame, timeframe: str) -> list[int]:
    from atb.data.candles import segment_ids
    from atb.features.indicators import WARMUP_BARS

    n = len(candles)
    cuts = set(np.linspace(min(WARMUP_BARS + 2, n - 1), n - 1, CUTS).astype(int).tolist())
    seg = segment_ids(candles["open_time"], timeframe)
    for start in np.flatnonzero(np.diff(seg)) + 1:  # a gap: the features restart there
        cuts.update(c for c in (start + 1, start + WARMUP_BARS + 2) if c < n)
    return sorted(c for c in cuts if c > 1)


def _tail(candles: pd.DataFrame) -> pd.DataFrame:
    tail = candles.iloc[-CAUSAL_ROWS:].reset_index(drop=True)
    tail.attrs = dict(candles.attrs)
    return tail


def leaking_features(candles: pd.DataFrame, timeframe: str, *, plant: bool = False) -> list[str]:
    """The pipeline's features (plus the canary column when ``plant``) that change when the future is removed."""
    from atb.features.causality import lookahead_features

    def features(c: pd.DataFrame) -> pd.DataFrame:
        frame = pipeline_features(c, timeframe)
        if plant:
            frame = frame.assign(**{CANARY_COLUMN: np.log(c["close"]).diff().shift(-1).to_numpy()})
        return frame

    tail = _tail(candles)
    return lookahead_features(features, tail, truncation_cuts(tail, timeframe))


def causal_check(candles: pd.DataFrame, timeframe: str, where: str) -> CheckResult:
    tail = _tail(candles)
    leaking = leaking_features(tail, timeframe)
    n_features = pipeline_features(tail.iloc[:2], timeframe).shape[1]
    cuts = truncation_cuts(tail, timeframe)
    figures = {"features": n_features, "rows": len(tail), "cuts": len(cuts), "leaking": leaking}
    first, last = tail["open_time"].iloc[0], tail["open_time"].iloc[-1]
    span = f"the newest {len(tail):,} candles of {where}, {first:%Y-%m-%d} .. {last:%Y-%m-%d}"
    if leaking:
        return CheckResult("leakage", "causal features", Status.FAIL,
                           f"{len(leaking)} of {n_features} features change when later candles are removed: "
                           f"{', '.join(leaking)}", figures,
                           f"truncation test on {span}, {len(cuts)} cuts: these features use candles after the "
                           "window's last one (look-ahead); fix them before trusting any score")
    return CheckResult("leakage", "causal features", Status.PASS,
                       f"all {n_features} features unchanged when the candles after each of {len(cuts)} cuts are "
                       f"removed ({span})", figures)


def canary_check(label: str, s: Score, truncation_caught: bool) -> CheckResult:
    reasons = too_good(s)
    figures = {**s.to_dict(), "truncation_test_caught": truncation_caught, "flagged_too_good": bool(reasons),
               "above_real_accuracy_bound": s.accuracy > REAL_ACCURACY_BOUND}
    line = (f"planted feature {'named' if truncation_caught else 'MISSED'} by the truncation test; planted leak in "
            f"the candles {'flagged too good to be true' if reasons else 'NOT flagged'} ({label}: {figures_line(s)})")
    missed = [w for w, bad in (("the truncation test did not name the leaked column", not truncation_caught),
                               ("a model trained on leaked candles was not flagged as beyond the best possible "
                                "forecast", not reasons)) if bad]
    if missed:
        return CheckResult("leakage", "canary", Status.FAIL, line, figures,
                           "; ".join(missed) + ": the alarms that would catch a real leak are deaf")
    return CheckResult("leakage", "canary", Status.PASS, line, figures,
                       f"{'; '.join(reasons)} (on real 1h crypto, atb's audit also calls a directional accuracy "
                       f"above {REAL_ACCURACY_BOUND:.0f}% too good: here {s.accuracy:.1f}%)")


def leak_bound_note() -> str:
    return (f"Too good to be true: on a doctor's market, a model whose squared error is significantly below the best "
            f"possible forecast's, or whose directional accuracy is above it; on real candles (the version audit), "
            f"a directional accuracy above {REAL_ACCURACY_BOUND:.0f}% or an RMSE skill above "
            f"{pct(REAL_SKILL_BOUND, 0)} vs naive persistence on 1h returns.")
