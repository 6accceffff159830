"""Data quality of the user's candles: gaps, zero-volume bars, stale closes, return outliers and bad ticks, wicks.

Returns are taken between consecutive candles only (a gap is not a move). Outliers are measured in robust standard
deviations (1.4826 x the median absolute deviation of the returns), which a few crashes cannot inflate.
FAIL is kept for what can only be a bad tick: a one-bar |log return| above 0.5, a move above 30% that the next
bar takes back (at least half of it), or a wick beyond 0.5 in log terms. Real markets have large moves that
revert: BTCUSDT 1h fell 11% and rose 16% in the next hour on 2020-03-13, so lesser outliers are WARN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atb.data.candles import find_gaps, segment_ids
from atb.doctor.result import CheckResult, Status
from atb.doctor.shared import OFFENDERS, pct, when

ROBUST_SDS = 20  # a return or wick beyond this many robust SDs is an outlier (WARN)
BAD_TICK_LOG_RETURN = 0.5  # |log return| of one bar above this: FAIL
BAD_TICK_MOVE = 0.30  # a move above 30% (simple return) ...
REVERT_SHARE = 0.5  # ... that the next bar takes back by at least half: FAIL
STALE_RUN = 5  # this many consecutive candles with one close: a stale feed (WARN)


def data_checks(candles: pd.DataFrame, timeframe: str) -> list[CheckResult]:
    return [gaps(candles, timeframe), zero_volume(candles), stale_closes(candles, timeframe),
            return_outliers(candles, timeframe), wicks(candles, timeframe)]


def bar_returns(candles: pd.DataFrame, timeframe: str) -> np.ndarray:
    """Log return of each candle's close from the previous candle's; NaN after a gap and for the first."""
    close = candles["close"].to_numpy(np.float64)
    seg = segment_ids(candles["open_time"], timeframe)
    r = np.full(len(close), np.nan)
    r[1:] = np.log(close[1:] / close[:-1])
    r[1:][seg[1:] != seg[:-1]] = np.nan
    return r


def robust_sd(values: np.ndarray) -> float:
    v = values[np.isfinite(values)]
    return float(1.4826 * np.median(np.abs(v - np.median(v)))) if len(v) else float("nan")


def gaps(candles: pd.DataFrame, timeframe: str) -> CheckResult:
    report = find_gaps(candles, timeframe)
    figures = {"gaps": report.count, "missing_candles": report.missing, "candles": len(candles)}
    if not report.count:
        return CheckResult("data", "gaps", Status.PASS, f"no gaps in {len(candles):,} candles", figures)
    longest = sorted(report.gaps, key=lambda g: g.missing, reverse=True)[:OFFENDERS]
    figures["longest"] = longest[0].missing
    share = report.missing / (len(candles) + report.missing)
    return CheckResult(
        "data", "gaps", Status.WARN,
        f"{report.count} gaps, {report.missing:,} missing candles ({pct(share, 2)}), longest {longest[0].missing} "
        f"after {when(longest[0].after)}", figures,
        "windows never span a gap (the features restart after it): fewer windows, no wrong ones",
        [f"{when(g.after)} (+{g.missing})" for g in longest])


def zero_volume(candles: pd.DataFrame) -> CheckResult:
    zero = np.flatnonzero(candles["volume"].to_numpy() == 0)
    figures = {"zero_volume_bars": int(len(zero)), "share": len(zero) / len(candles)}
    if not len(zero):
        return CheckResult("data", "zero volume", Status.PASS, "no zero-volume bars", figures)
    return CheckResult("data", "zero volume", Status.WARN,
                       f"{len(zero)} zero-volume bars ({pct(len(zero) / len(candles), 3)})", figures,
                       "a bar without trades: its price is stale and its volume feature extreme",
                       [when(t) for t in candles["open_time"].iloc[zero[:OFFENDERS]]])


def stale_closes(candles: pd.DataFrame, timeframe: str) -> CheckResult:
    close = candles["close"].to_numpy()
    seg = segment_ids(candles["open_time"], timeframe)
    same = np.concatenate([[False], (close[1:] == close[:-1]) & (seg[1:] == seg[:-1])])
    run_id = np.cumsum(~same)  # one id per run of identical consecutive closes
    lengths = np.bincount(run_id)
    starts = np.flatnonzero(~same)  # the first candle of each run, in run_id order (ids start at 1)
    long_runs = np.flatnonzero(lengths >= STALE_RUN)
    longest = int(lengths.max()) if len(lengths) else 0
    figures = {"stale_runs": int(len(long_runs)), "longest_run": longest, "run_threshold": STALE_RUN}
    if not len(long_runs):
        return CheckResult("data", "stale closes", Status.PASS,
                           f"no run of {STALE_RUN}+ identical closes (longest {longest})", figures)
    worst_ids = long_runs[np.argsort(-lengths[long_runs], kind="stable")][:OFFENDERS]
    times = candles["open_time"].to_numpy()
    return CheckResult("data", "stale closes", Status.WARN,
                       f"{len(long_runs)} runs of {STALE_RUN}+ identical closes, longest {longest} candles", figures,
                       "a frozen feed: flat returns that no model should learn",
                       [f"{when(times[starts[i - 1]])} ({lengths[i]})" for i in worst_ids])


def return_outliers(candles: pd.DataFrame, timeframe: str) -> CheckResult:
    r = bar_returns(candles, timeframe)
    sd = robust_sd(r)
    z = np.abs(r - np.nanmedian(r)) / sd if sd > 0 else np.zeros_like(r)
    outliers = np.flatnonzero(np.nan_to_num(z) > ROBUST_SDS)
    nxt = np.append(r[1:], np.nan)
    move = np.abs(np.expm1(r))
    reverted = (np.sign(nxt) == -np.sign(r)) & (np.abs(nxt) >= REVERT_SHARE * np.abs(r))
    bad = np.flatnonzero(np.nan_to_num(np.abs(r)) > BAD_TICK_LOG_RETURN)
    bad = np.union1d(bad, np.flatnonzero((np.nan_to_num(move) > BAD_TICK_MOVE) & reverted))
    largest = int(np.nanargmax(np.abs(r))) if np.isfinite(r).any() else None
    times = candles["open_time"]
    figures = {"robust_sd": sd, "threshold_sds": ROBUST_SDS, "outliers": int(len(outliers)),
               "bad_ticks": int(len(bad)), "largest_log_return": None if largest is None else float(r[largest]),
               "reverted_moves_over_10pct": int(((np.nan_to_num(move) > 0.10) & reverted).sum())}
    ranked = (bad if len(bad) else outliers)
    ranked = ranked[np.argsort(-np.abs(r[ranked]), kind="stable")][:OFFENDERS]
    offenders = [f"{when(times.iloc[i])} ({pct(np.expm1(r[i]), 1, sign=True)})" for i in ranked]
    head = (f"robust SD {pct(sd, 3)}; {len(outliers)} returns beyond {ROBUST_SDS} robust SDs"
            + (f", largest {pct(np.expm1(r[largest]), 1, sign=True)} at {when(times.iloc[largest])}"
               if largest is not None else ""))
    if len(bad):
        return CheckResult("data", "return outliers", Status.FAIL, f"{len(bad)} bad ticks; {head}", figures,
                           f"a one-bar |log return| above {BAD_TICK_LOG_RETURN}, or a move above "
                           f"{BAD_TICK_MOVE:.0%} taken back next bar: fix or drop these candles", offenders)
    if len(outliers):
        return CheckResult("data", "return outliers", Status.WARN, head, figures,
                           "large moves, none a bad tick by the FAIL rules: check they are real (a crash, news)",
                           offenders)
    return CheckResult("data", "return outliers", Status.PASS, head, figures)


def wicks(candles: pd.DataFrame, timeframe: str) -> CheckResult:
    o, h, lo, c = (candles[k].to_numpy(np.float64) for k in ("open", "high", "low", "close"))
    wick = np.maximum(np.log(h / np.maximum(o, c)), np.log(np.minimum(o, c) / lo))
    sd = robust_sd(bar_returns(candles, timeframe))
    far = np.flatnonzero(wick > ROBUST_SDS * sd)
    bad = np.flatnonzero(wick > BAD_TICK_LOG_RETURN)
    largest = int(np.argmax(wick))
    figures = {"far_wicks": int(len(far)), "bad_wicks": int(len(bad)), "largest_wick_log": float(wick[largest]),
               "threshold_log": ROBUST_SDS * sd}
    ranked = far[np.argsort(-wick[far], kind="stable")][:OFFENDERS]
    offenders = [f"{when(candles['open_time'].iloc[i])} ({pct(np.expm1(wick[i]))})" for i in ranked]
    head = (f"{len(far)} bars with high/low beyond {ROBUST_SDS} robust return SDs ({pct(ROBUST_SDS * sd, 1)}) outside "
            f"open/close; largest {pct(np.expm1(wick[largest]))} at {when(candles['open_time'].iloc[largest])}")
    if len(bad):
        return CheckResult("data", "wicks", Status.FAIL, head, figures,
                           f"a wick beyond {BAD_TICK_LOG_RETURN} in log terms is a bad tick: it feeds the range, "
                           "wick and ATR features", offenders)
    if len(far):
        return CheckResult("data", "wicks", Status.WARN, head, figures,
                           "long wicks (flash moves): real ones happen; check these", offenders)
    return CheckResult("data", "wicks", Status.PASS, head, figures)
