"""The backtest protocol recomputed from its words (DESIGN.md's Backtest bullet, issue 14), in plain numpy and
scipy, without importing atb.backtest: what the tests hold `atb backtest` and metadata.json's backtest to.

Input: a predictions.parquet table (target_time, last_close, actual_close, predicted_close, optional split).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

GRID_COST_MULTIPLES = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)  # the threshold grid, in units of the cost of one change


def splits(predictions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(test rows, validation rows or None): a table without the split column is all test rows."""
    if "split" not in predictions:
        return predictions, None
    return (predictions[predictions["split"] == "test"].reset_index(drop=True),
            predictions[predictions["split"] == "validation"].reset_index(drop=True))


def positions(frame: pd.DataFrame, mode: str, threshold: float) -> np.ndarray:
    p = np.log(frame["predicted_close"].to_numpy() / frame["last_close"].to_numpy())
    long = (p > threshold).astype(float)
    return long - (p < -threshold) if mode == "long_short" else long


def net_returns(frame: pd.DataFrame, pos: np.ndarray, cost: float) -> np.ndarray:
    move = frame["actual_close"].to_numpy() / frame["last_close"].to_numpy() - 1
    previous = np.concatenate([[0.0], pos[:-1]])
    return pos * move - np.abs(pos - previous) * cost


def sharpe_per_bar(r: np.ndarray) -> float:
    sd = np.std(r, ddof=1) if len(r) > 1 else 0.0
    return float(np.mean(r) / sd) if sd > 0 else float("nan")


def choose_threshold(validation: pd.DataFrame | None, mode: str, cost: float) -> tuple[float, str]:
    if validation is None or len(validation) < 2:
        return 0.0, "default"
    best = None
    for threshold in sorted({m * cost for m in GRID_COST_MULTIPLES}):
        sr = sharpe_per_bar(net_returns(validation, positions(validation, mode, threshold), cost))
        score = sr if math.isfinite(sr) else 0.0  # never in the market: the Sharpe of cash
        if best is None or score > best[0]:  # ties keep the smaller threshold
            best = (score, threshold)
    return best[1], "validation"


def figures(r: np.ndarray, pos: np.ndarray, cost: float, bpy: float) -> dict:
    n = len(r)
    equity = np.cumprod(1 + r)
    peak = np.maximum(1.0, np.maximum.accumulate(equity))
    dd = 1 - equity / peak
    longest = run = 0
    for below in dd > 1e-12:
        run = run + 1 if below else 0
        longest = max(longest, run)
    changes = np.abs(pos - np.concatenate([[0.0], pos[:-1]]))
    sr = sharpe_per_bar(r)
    se = _standard_error(r, sr)
    annual = float(equity[-1] ** (bpy / n) - 1)
    downside = math.sqrt(np.mean(np.minimum(r, 0) ** 2))
    gains, losses = r[r > 0].sum(), -r[r < 0].sum()
    held = pos != 0
    return {
        "total_return": float(equity[-1] - 1),
        "annual_return": annual,
        "annual_volatility": float(np.std(r, ddof=1) * math.sqrt(bpy)),
        "sharpe": sr * math.sqrt(bpy),
        "sharpe_ci95": [(sr - 1.959963984540054 * se) * math.sqrt(bpy), (sr + 1.959963984540054 * se) * math.sqrt(bpy)],
        "sortino": float(np.mean(r) * math.sqrt(bpy) / downside) if downside > 0 else float("nan"),
        "max_drawdown": float(dd.max()),
        "max_drawdown_bars": longest,
        "calmar": annual / float(dd.max()) if dd.max() > 0 else float("nan"),
        "hit_rate": float(np.mean(r[held] > 0)) if held.any() else float("nan"),
        "profit_factor": float(gains / losses) if losses > 0 else float("nan") if gains == 0 else float("inf"),
        "n_trades": int(np.count_nonzero(changes)),
        "exposure_pct": 100 * float(np.mean(held)),
        "turnover": float(changes.sum() / n),
        "fees_paid": float(changes.sum() * cost),
    }


def _moments(r: np.ndarray) -> tuple[float, float]:
    return float(stats.skew(r)), float(stats.kurtosis(r, fisher=False))


def _standard_error(r: np.ndarray, sr: float) -> float:
    """Mertens (2002): se^2 = (1 + SR^2/2 - skew SR + (kurt - 3)/4 SR^2) / (n - 1), per bar."""
    if not math.isfinite(sr):
        return float("nan")
    skew, kurt = _moments(r)
    return math.sqrt((1 + sr**2 / 2 - skew * sr + (kurt - 3) / 4 * sr**2) / (len(r) - 1))


def psr(r: np.ndarray, benchmark_per_bar: float) -> float:
    """Bailey & Lopez de Prado (2012): Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - skew SR + (kurt - 1)/4 SR^2))."""
    sr = sharpe_per_bar(r)
    if not (math.isfinite(sr) and math.isfinite(benchmark_per_bar)):
        return float("nan")
    skew, kurt = _moments(r)
    return float(stats.norm.cdf((sr - benchmark_per_bar) * math.sqrt(len(r) - 1)
                                / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)))


def backtest(predictions: pd.DataFrame, *, mode: str = "long_flat", fee_bps: float = 10.0,
             slippage_bps: float = 2.0, threshold: float | None = None, bars_per_year: float = 8760.0) -> dict:
    """Every figure of the protocol, keyed as metadata.json's backtest (NaN and inf left as they are)."""
    test, validation = splits(predictions)
    cost = (fee_bps + slippage_bps) / 10_000
    source = "flag"
    if threshold is None:
        threshold, source = choose_threshold(validation, mode, cost)
    last = test["last_close"].to_numpy()
    momentum_signal = np.concatenate([[0.0], last[1:] / last[:-1] - 1])
    momentum = (momentum_signal > 0).astype(float) - ((momentum_signal < 0) if mode == "long_short" else 0)
    runs = {"strategy": positions(test, mode, threshold), "buy_and_hold": np.ones(len(test)),
            "momentum": np.asarray(momentum, float), "cash": np.zeros(len(test))}
    returns = {name: net_returns(test, pos, cost) for name, pos in runs.items()}
    hold_sr = sharpe_per_bar(returns["buy_and_hold"])
    return {
        "mode": mode, "fee_bps": fee_bps, "slippage_bps": slippage_bps, "threshold": threshold,
        "threshold_source": source, "bars_per_year": bars_per_year, "n_bars": len(test),
        **{name: figures(returns[name], runs[name], cost, bars_per_year) for name in runs},
        "psr_vs_zero": psr(returns["strategy"], 0.0),
        "psr_vs_buy_and_hold": psr(returns["strategy"], hold_sr),
    }


def assert_same(recorded: dict, expected: dict, rel: float = 1e-9, path: str = "backtest") -> None:
    """Every key of ``expected`` matches ``recorded`` (JSON: NaN and inf are null there)."""
    for key, want in expected.items():
        got = recorded[key]
        where = f"{path}.{key}"
        if isinstance(want, dict):
            assert_same(got, want, rel, where)
        elif isinstance(want, list):
            assert len(got) == len(want), where
            for i, (g, w) in enumerate(zip(got, want, strict=True)):
                _same(g, w, rel, f"{where}[{i}]")
        else:
            _same(got, want, rel, where)


def _same(got, want, rel: float, where: str) -> None:
    if isinstance(want, str) or want is None:
        assert got == want, f"{where}: {got!r} != {want!r}"
    elif isinstance(want, float) and not math.isfinite(want):
        assert got is None or (isinstance(got, float) and not math.isfinite(got)), f"{where}: {got!r}, want {want}"
    else:
        assert got is not None and math.isclose(got, want, rel_tol=rel, abs_tol=1e-12), f"{where}: {got!r} != {want!r}"
