"""`atb ab report`: the champion and the challenger scored on the same realised target times, and the decision.

From the prediction log (`served_predictions`), each version keeps one forecast per target time: the latest one
logged by the time the target bar opened, allowing the time it takes to make it (``grace``, default a tenth of a
bar: 6 minutes for 1h candles), so that it could still have been traded on that bar. A forecast logged later (a
client replaying old candles, a backfill) never counts: a model may have been trained on those bars. A
forecast whose last close is not the market's close of the bar before the target (a client's own candles) is
left out too, and counted.

Both roles are scored on the target times they share and whose candle has closed (from the cache or a file):
RMSE against naive persistence with a one-sided Diebold-Mariano test, directional accuracy with the
Pesaran-Timmermann test beside its base rates (all by `evaluation.metrics.evaluate_forecasts`, as for a test
split), and the backtest (horizon 1) with each version's own no-trade threshold, the one its validation split
chose (metadata `backtest.threshold`), else 0, said which. The decision is one DM test of the two squared-error
series (H1: the challenger's loss is lower): "promote" when p < ALPHA on at least MIN_N shared target times,
"keep" otherwise, "not enough data" below MIN_N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from atb.backtest.result import strict_json
from atb.evaluation.metric_table import DASH, METRIC, fmt_p
from atb.evaluation.metrics import evaluate_forecasts
from atb.evaluation.stats import diebold_mariano
from atb.registry.metadata import VersionMetadata

MIN_N = 100  # shared realised target times before a decision is made
ALPHA = 0.05
GRACE_BARS = 0.1  # a forecast may be logged this share of a bar after the target bar opened (its own latency)
RULE = (f"promote only when the challenger's squared error is lower with a one-sided Diebold-Mariano p < {ALPHA} "
        f"(H1: challenger better) on at least {MIN_N} shared realised target times; otherwise keep")
PRICE_MATCH = 1e-6  # relative difference between a forecast's last close and the market's close that still matches


@dataclass
class RoleScore:
    role: str
    version: str
    logged: int  # this version's forecasts in the log (any target time)
    counted: int  # target times with a forecast that counts, before sharing with the other role
    metrics: dict[str, Any] = field(default_factory=dict)  # evaluate_forecasts() on the shared target times
    backtest: dict[str, Any] | None = None
    threshold: float = 0.0
    threshold_source: str = ""
    note: str = ""


@dataclass
class ABReport:
    symbol: str
    timeframe: str
    horizon: int
    n: int  # shared realised target times
    first_target: str | None
    last_target: str | None
    roles: list[RoleScore]
    dm: dict[str, Any] | None  # challenger vs champion
    decision: str
    late: int  # forecasts left out: logged after the deadline
    mismatched: int  # forecasts left out: their last close is not the market's
    pending: int  # shared target times whose candle is not in the candles given (not yet closed, or missing)
    grace_s: float
    rule: str = RULE
    # The shared realised target times: target_time, last_close, actual_close, and predicted_<role> per role (for
    # charts; not in to_dict)
    series: pd.DataFrame | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return strict_json({
            "symbol": self.symbol, "timeframe": self.timeframe, "horizon": self.horizon, "n": self.n,
            "first_target": self.first_target, "last_target": self.last_target,
            "roles": [vars(role) for role in self.roles], "dm_challenger_vs_champion": self.dm,
            "decision": self.decision, "rule": self.rule, "late": self.late, "mismatched": self.mismatched,
            "pending": self.pending, "grace_s": self.grace_s,
        })


def counted_forecasts(rows: pd.DataFrame, version: str, deadline: pd.Timedelta) -> tuple[pd.DataFrame, int]:
    """One forecast per target time for ``version``: the latest logged by target_time + deadline; and how many of
    its rows were logged too late."""
    mine = rows[rows["version_id"] == version]
    on_time = mine["created_at"] <= mine["target_time"] + deadline
    kept = mine[on_time].sort_values(["target_time", "created_at"], kind="stable")
    return kept.drop_duplicates("target_time", keep="last").set_index("target_time"), int((~on_time).sum())


def build_report(symbol: str, rows: pd.DataFrame, candles: pd.DataFrame, *, champion: str, challenger: str | None,
                 timeframe: str, horizon: int, metadata: dict[str, VersionMetadata | None],
                 grace: pd.Timedelta | None = None, min_n: int = MIN_N) -> ABReport:
    """``rows``: the symbol's log rows (tracking.served.read_rows) as a frame; ``candles``: the realised market."""
    step = pd.Timedelta(_timeframe_seconds(timeframe), unit="s")
    grace = step * GRACE_BARS if grace is None else grace
    rows = rows[rows["timeframe"].isna() | (rows["timeframe"] == timeframe)] if len(rows) else rows
    close = candles.set_index("open_time")["close"].astype(float)
    versions = [(champion, "champion")] + ([(challenger, "challenger")] if challenger else [])
    kept: dict[str, pd.DataFrame] = {}
    late = mismatched = 0
    scores = []
    for version, role in versions:
        forecasts, too_late = counted_forecasts(rows, version, grace) if len(rows) else (_empty(), 0)
        late += too_late
        market_last = close.reindex(forecasts.index - horizon * step).to_numpy()
        same = np.isclose(forecasts["last_close"].to_numpy(float), market_last, rtol=PRICE_MATCH, atol=0)
        known = ~np.isnan(market_last)
        mismatched += int((known & ~same).sum())
        kept[version] = forecasts[~known | same]  # a bar the candles lack cannot be checked; it is pending below
        scores.append(RoleScore(role, version, int((rows["version_id"] == version).sum()) if len(rows) else 0,
                                len(kept[version])))
    shared = kept[champion].index
    for version, _ in versions[1:]:
        shared = shared.intersection(kept[version].index)
    shared = shared.sort_values()
    actual_all = close.reindex(shared).to_numpy()
    realised = ~np.isnan(actual_all) & ~np.isnan(close.reindex(shared - horizon * step).to_numpy())
    targets = shared[realised]
    pending = int((~realised).sum())
    actual = actual_all[realised]
    errors: dict[str, np.ndarray] = {}
    for score in scores:
        forecasts = kept[score.version].loc[targets]
        last, predicted = forecasts["last_close"].to_numpy(float), forecasts["predicted_close"].to_numpy(float)
        errors[score.version] = predicted - actual
        if len(targets) >= 2:
            score.metrics = evaluate_forecasts(last, actual, predicted, horizon)
        _backtest(score, targets, last, actual, predicted, horizon, timeframe, metadata.get(score.version))
    n = len(targets)
    dm = None
    if challenger and n:
        result = diebold_mariano(errors[challenger], errors[champion], horizon)
        dm = {**result.to_dict(), "n": result.n,
              "rmse_change_pct": _rmse_change(errors[challenger], errors[champion])}
    decision = _decide(n, dm, min_n, challenger)
    series = pd.DataFrame({"target_time": targets, "actual_close": actual,
                           "last_close": kept[champion].loc[targets, "last_close"].to_numpy(float)})
    for score in scores:
        series[f"predicted_{score.role}"] = kept[score.version].loc[targets, "predicted_close"].to_numpy(float)
    return ABReport(symbol, timeframe, horizon, n, _iso(targets[0]) if n else None, _iso(targets[-1]) if n else None,
                    scores, dm, decision, late, mismatched, pending, grace.total_seconds(), series=series)


ROLE_HEADERS = ("role", "version", "RMSE", "naive RMSE", "skill", "DM p vs naive", "dir. acc. %", "up % fc/act",
                "PT p", "Sharpe [95% CI]", "return", "B&H return", "trades", "threshold")


def report_title(report: ABReport) -> str:
    return (f"{report.symbol} {report.timeframe}: champion vs challenger on {report.n} shared realised target times"
            + (f" ({report.first_target[:16]} .. {report.last_target[:16]})" if report.n else ""))


def role_cells(role: RoleScore) -> list[str]:
    """A role's row of the report's table (ROLE_HEADERS), formatted by the metric table."""
    m, bt = role.metrics, role.backtest or {}
    dm = m.get("dm_vs_naive") or {}
    ci = bt.get("sharpe_ci95") or [None, None]
    up = (f"{METRIC['predicted_up_pct'].format(m.get('predicted_up_pct'))}/"
          f"{METRIC['actual_up_pct'].format(m.get('actual_up_pct'))}") if m else DASH
    return [
        role.role, role.version, METRIC["test_rmse"].format(m.get("test_rmse")),
        METRIC["naive_test_rmse"].format(m.get("naive_test_rmse")),
        METRIC["rmse_skill_vs_naive"].format(m.get("rmse_skill_vs_naive")), fmt_p(dm.get("p_value_one_sided")),
        METRIC["directional_accuracy"].format(m.get("directional_accuracy")), up,
        fmt_p(m.get("directional_pt_p_value")),
        f"{_num(bt.get('sharpe'), '.2f')} [{_num(ci[0], '.2f')}, {_num(ci[1], '.2f')}]" if bt else DASH,
        _pct(bt.get("total_return")), _pct(bt.get("buy_and_hold_total_return")),
        str(bt.get("n_trades", DASH)), f"{role.threshold:g}",
    ]


def detail_lines(report: ABReport) -> list[str]:
    """What was counted and left out, and the DM test of the challenger against the champion (plain text)."""
    lines = [f"  {role.role} {role.version}: {role.logged} forecasts logged, {role.counted} target times counted; "
             f"threshold {role.threshold:g} ({role.threshold_source})" + (f"; {role.note}" if role.note else "")
             for role in report.roles]
    lines.append(f"  left out: {report.late} forecasts logged after the target bar opened (+{report.grace_s:g} s), "
                 f"{report.mismatched} whose last close is not the market's; {report.pending} shared target times "
                 "not yet realised in the candles")
    dm = report.dm
    if dm is None:
        lines.append("DM challenger vs champion: no challenger forecasts to compare")
    else:
        lines.append(f"DM challenger vs champion: statistic {_num(dm.get('statistic'), '+.3f')}, one-sided p = "
                     f"{fmt_p(dm.get('p_value_one_sided'))} (H1: the challenger's squared error is lower), n = "
                     f"{dm.get('n')}, challenger RMSE {_num(dm.get('rmse_change_pct'), '+.2f')}% vs the champion's")
    return lines


def _num(value: Any, spec: str) -> str:
    return DASH if value is None or value != value else format(value, spec)


def _pct(value: Any) -> str:
    return DASH if value is None or value != value else f"{100 * value:+.2f}%"


def _decide(n: int, dm: dict | None, min_n: int, challenger: str | None) -> str:
    if challenger is None or n < min_n:
        return f"not enough data (n < {min_n})"
    p = dm.get("p_value_one_sided") if dm else None
    return "promote" if p is not None and p == p and p < ALPHA else "keep"


def _backtest(score: RoleScore, targets: pd.DatetimeIndex, last: np.ndarray, actual: np.ndarray,
              predicted: np.ndarray, horizon: int, timeframe: str, meta: VersionMetadata | None) -> None:
    threshold = validation_threshold(meta) if meta is not None else None
    if threshold is None:
        score.threshold, score.threshold_source = 0.0, "0: the version's metadata has no validation threshold"
    else:
        score.threshold, score.threshold_source = threshold, "validation (metadata backtest.threshold)"
    if horizon != 1:
        score.note = f"no backtest: it scores one-bar positions, this model forecasts {horizon} bars ahead"
        return
    if len(targets) < 2:
        return
    from atb.backtest import run_backtest

    frame = pd.DataFrame({"target_time": targets, "last_close": last, "actual_close": actual,
                          "predicted_close": predicted})
    result = run_backtest(frame, horizon=horizon, timeframe=timeframe, threshold=score.threshold)
    strategy, hold = result.strategy.metrics, result.buy_and_hold.metrics
    score.backtest = {
        "bars": result.n_bars, "sharpe": strategy.sharpe, "sharpe_ci95": list(strategy.sharpe_ci95),
        "total_return": strategy.total_return, "max_drawdown": strategy.max_drawdown,
        "n_trades": strategy.n_trades, "exposure_pct": strategy.exposure_pct, "psr_vs_zero": result.psr_vs_zero,
        "buy_and_hold_total_return": hold.total_return, "buy_and_hold_sharpe": hold.sharpe,
        "fee_bps": result.fee_bps, "slippage_bps": result.slippage_bps,
    }


def validation_threshold(meta: VersionMetadata) -> float | None:
    """The no-trade threshold the version's validation split chose (metadata `backtest.threshold`), if any."""
    section = getattr(meta, "backtest", None)  # a typed section, where this atb has one
    if section is None or isinstance(section, dict):
        section = section or meta.other.get("backtest")
        value = section.get("threshold") if isinstance(section, dict) else None
    else:
        value = getattr(section, "threshold", None)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _rmse_change(challenger: np.ndarray, champion: np.ndarray) -> float | None:
    base = float(np.sqrt(np.mean(champion ** 2)))
    return 100 * (float(np.sqrt(np.mean(challenger ** 2))) / base - 1) if base > 0 else None


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["last_close", "predicted_close"], index=pd.DatetimeIndex([], tz="UTC"))


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _timeframe_seconds(timeframe: str) -> int:
    from atb.data.timeframes import timeframe_seconds

    return timeframe_seconds(timeframe)
