"""The doctor's markets, whose answers are known, and the best possible forecast on them.

**The planted signal.** The synthetic market (atb.data.synthetic) draws log returns from an AR(1)-GARCH(1,1)
process, r_t = phi * r_{t-1} + e_t, where e_t has mean zero given the past (Student-t innovations scaled by a
GARCH volatility). So:

- The best forecast of r_t from the past in squared error, the *oracle*, is phi * r_{t-1}; its error is e_t.
  Naive persistence forecasts r_t = 0; its error is r_t.
- Stationarity gives E[r^2] = phi^2 E[r^2] + E[e^2], i.e. E[e^2] = (1 - phi^2) E[r^2], whatever the volatility
  clustering (e_t is uncorrelated with r_{t-1}). On the price scale the errors are last_close * (exp(forecast) -
  exp(r_t)) ~ last_close * (forecast - r_t), so the attainable RMSE skill vs naive is
  **1 - sqrt(1 - phi^2)** (28.6% for phi = -0.7).
- With Gaussian innovations and constant volatility, (r_{t-1}, r_t) is bivariate normal with correlation phi
  and the oracle calls the sign of r_t right with probability **1/2 + arcsin(|phi|)/pi** (Sheppard's formula:
  74.7% for |phi| = 0.7); fat tails and clustering move it a little.

The check does not rely on those large-sample values: it scores the oracle on the same test windows as the model
(`oracle_close`), so "the attainable skill" is exact for that sample; the formulas are shown beside it and a
test checks them against a long simulation.

**Why phi < 0** (mean reversion, like the bid-ask bounce of real 1h returns): a target misaligned by one bar
either way flips the sign of what is learnt (the label r_t fits +1 x the window's last return; the label
r_{t+2} fits +phi^2), so a shifted target scores far below naive instead of close to the oracle. **Why |phi| =
0.7**: a model's shortfall from the oracle (estimation error) does not shrink with phi while the attainable gain
grows with phi^2; on markets of 1,440 targets the lightweight CNN-LSTM missed 70% of the attainable skill on 3 of
4 markets at 0.5 and on 1 of 12 at 0.7 (hence the quick preset's 2,160 targets; benchmarks/doctor_reliability.py).
Features that lag the window by a bar still fail: they attain 1 - sqrt(1 - phi^4), under half the oracle's skill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SIGNAL_AR = -0.7  # the planted AR(1) coefficient
MARKET_SYMBOL = "DOCTOR"  # enters the synthetic market's seed: the doctor's markets never depend on the user's symbol
SIGNAL_SEED = 11  # the market seeds (a model's seed is separate: TrainRequest.seed)
PLACEBO_SEED = 12
LEARNING_SEED = 13
LEAK_GAIN = 2.0  # the planted leak: log volume moves by this many units per robust SD of the next bar's return


@dataclass(frozen=True)
class Market:
    """Where a doctor's training run gets its candles: the synthetic market (ar_coef, seed) or a file."""

    name: str  # "known signal", "placebo", "leaked"
    ar_coef: float
    seed: int
    data_file: Path | None = None  # a planted market written to a file (the leak)


SIGNAL = Market("known signal", SIGNAL_AR, SIGNAL_SEED)
PLACEBO = Market("placebo", 0.0, PLACEBO_SEED)
LEARNING = Market("learning", 0.0, LEARNING_SEED)


def attainable(phi: float) -> dict[str, float]:
    """Large-sample figures of the oracle phi * r_{t-1} (see the module's docstring): RMSE skill vs naive, and the
    directional accuracy in % under Gaussian innovations."""
    return {"rmse_skill": 1 - math.sqrt(1 - phi * phi),
            "directional_accuracy": 50 + 100 * math.asin(abs(phi)) / math.pi}


def oracle_close(candles: pd.DataFrame, target_times: pd.Series, phi: float) -> np.ndarray:
    """The best possible one-bar forecast of the close at each target time: last_close * exp(phi * r_last), where
    r_last is the return into the last close (the rows of a window are consecutive candles)."""
    close = candles["close"].to_numpy(np.float64)
    rows = pd.Index(candles["open_time"]).get_indexer(pd.to_datetime(target_times, utc=True))
    if (rows < 2).any():
        raise ValueError("a target time is missing from the candles, or has no two closes before it")
    last, before = close[rows - 1], close[rows - 2]
    return last * np.exp(phi * np.log(last / before))


def plant_leak(candles: pd.DataFrame) -> pd.DataFrame:
    """The target moved into the window: each candle's volume carries the *next* bar's return (its log moves by
    LEAK_GAIN per robust SD of that return), so the pipeline's own volume feature holds the label. The last candle,
    which has no next bar, keeps its volume."""
    out = candles.copy()
    log_close = np.log(out["close"].to_numpy(np.float64))
    next_return = np.append(np.diff(log_close), 0.0)
    scale = 1.4826 * float(np.median(np.abs(next_return - np.median(next_return)))) or 1.0
    out["volume"] = out["volume"].to_numpy(np.float64) * np.exp(LEAK_GAIN * next_return / scale)
    out.attrs = dict(candles.attrs)
    return out
