"""The benchmark's trading section: does acting on each model's forecasts beat buy-and-hold after costs?

Each run (one seed, one fold) is backtested as `atb backtest` does it (atb.backtest.run_backtest: long_flat, the
default fee and slippage, the no-trade threshold chosen on that run's own validation predictions and frozen).
Then, per model:
- bars: the (fold, target time) pairs that every run of every model scored, so that every figure of the section
  is on the same bars for all models and for the benchmarks;
- per seed: the seed's folds in time order, each fold starting flat (a new model takes its own entry position);
  its trading metrics (atb.backtest.metrics) on that one path; the table shows their mean ± std across seeds;
- the Sharpe ratio with its 95% interval, and the PSR vs 0 and vs buy-and-hold, are of the seed-averaged net
  return of each bar: the seeds share their bars, so they are not independent evidence (the same reasoning as
  the seed-averaged squared error behind the DM tests); with one seed it is that seed's path;
- buy-and-hold, momentum and cash: the same bars and costs, each fold entering afresh like the strategy.
The economic verdict (benchmark.decision) reads these rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from atb.backtest import DEFAULT_FEE_BPS, DEFAULT_MODE, DEFAULT_SLIPPAGE_BPS, SUPPORTED_HORIZON
from atb.backtest.costs import bars_per_year, cost_per_unit
from atb.backtest.metrics import trading_metrics
from atb.backtest.result import strict_json
from atb.backtest.run import run_backtest
from atb.backtest.sharpe import SharpeMoments, probabilistic_sharpe_ratio, sharpe_ci, sharpe_moments
from atb.backtest.simulate import Path, drawdown
from atb.benchmark.records import RunRecord
from atb.errors import AtbError
from atb.evaluation.comparison import Entry
from atb.evaluation.metric_table import BACKTEST_PREFIX

BENCHMARKS = (("buy_and_hold", "buy-and-hold"), ("momentum", "momentum"), ("cash", "cash"))
POOLING = ("each run's threshold from its own validation predictions; per seed the folds in time order (each "
           "fold enters afresh); metrics: mean ± std across seeds; Sharpe, its 95% CI and the PSRs: of the "
           "seed-averaged net return of each bar; all on the bars every model scored")


@dataclass
class TradingRow:
    label: str  # a model's label, or a benchmark's name
    architecture: str | None  # None for the benchmarks
    seeds: int
    mean: dict  # trading metric -> mean across seeds (a benchmark: its one value)
    std: dict  # -> sample std across seeds (None with one seed, and for the benchmarks)
    sharpe: float | None  # of the seed-averaged per-bar net returns, annualised
    sharpe_ci95: list
    psr_vs_zero: float | None
    psr_vs_buy_and_hold: float | None  # None for the benchmarks
    seed_sharpes: list = field(default_factory=list)  # each seed's own Sharpe (a model only)

    @property
    def is_benchmark(self) -> bool:
        return self.architecture is None

    def value(self, key: str) -> Any:
        if key in ("sharpe", "sharpe_ci95", "psr_vs_zero", "psr_vs_buy_and_hold"):
            return getattr(self, key)
        return self.mean.get(key)

    def spread(self, key: str) -> float | None:
        return None if key == "sharpe" else self.std.get(key)

    def to_dict(self) -> dict:
        return strict_json({"label": self.label, "architecture": self.architecture, "seeds": self.seeds,
                            "sharpe": self.sharpe, "sharpe_ci95": self.sharpe_ci95, "psr_vs_zero": self.psr_vs_zero,
                            "psr_vs_buy_and_hold": self.psr_vs_buy_and_hold, "seed_sharpes": self.seed_sharpes,
                            "mean": self.mean, "std": self.std})


@dataclass
class TradingSummary:
    mode: str
    fee_bps: float
    slippage_bps: float
    bars: int  # the bars every model scored (all folds)
    start: str
    end: str
    rows: list[TradingRow]  # the models in plan order, then buy-and-hold, momentum, cash
    thresholds: dict  # label -> the runs' thresholds (chosen on validation), in run order
    threshold_sources: list[str]  # the distinct sources ("validation"; "default" for versions without them)
    pooling: str = POOLING

    def row(self, label: str) -> TradingRow | None:
        return next((r for r in self.rows if r.label == label), None)

    @property
    def buy_and_hold(self) -> TradingRow:
        return self.rows[-len(BENCHMARKS)]

    def flat(self, label: str) -> dict:
        """A model's figures under the keys a summary row (and the decision) reads: backtest_<key>."""
        row = self.row(label)
        if row is None or row.is_benchmark:
            return {}
        out = {f"{BACKTEST_PREFIX}{key}": row.value(key) for key in ("sharpe", "sharpe_ci95", "psr_vs_zero",
                                                                     "psr_vs_buy_and_hold")}
        out.update({f"{BACKTEST_PREFIX}{key}": value for key, value in row.mean.items() if key not in out})
        out[f"{BACKTEST_PREFIX}sharpe_seeds"] = row.seed_sharpes
        out[f"{BACKTEST_PREFIX}buy_and_hold_sharpe"] = self.buy_and_hold.sharpe
        return strict_json(out)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "fee_bps": self.fee_bps, "slippage_bps": self.slippage_bps, "bars": self.bars,
                "start": self.start, "end": self.end, "pooling": self.pooling,
                "threshold_sources": self.threshold_sources, "thresholds": strict_json(self.thresholds),
                "rows": [r.to_dict() for r in self.rows]}


def trading_summary(records: list[RunRecord], entries: dict[int, Entry], timeframe: str) -> tuple[
        TradingSummary | None, str | None]:
    """The section, or (None, why not) when there is none (no run, a horizon other than 1, unusable predictions)."""
    ok = [r for r in records if r.ok and r.index in entries]
    if not ok:
        return None, "no run completed"
    horizons = sorted({entries[r.index].horizon for r in ok})
    if horizons != [SUPPORTED_HORIZON]:
        return None, f"the backtest supports horizon 1 only (these runs forecast {horizons} bars ahead)"
    bpy, cost = bars_per_year(timeframe), cost_per_unit(DEFAULT_FEE_BPS, DEFAULT_SLIPPAGE_BPS)
    paths, thresholds, sources = {}, {}, set()
    for r in ok:
        entry = entries[r.index]
        try:
            result = run_backtest(entry.predictions, entry.validation, timeframe=timeframe)
        except AtbError as exc:
            return None, f"run {r.index} ({r.label}, seed {r.seed}, fold {r.fold}): {exc}"
        thresholds.setdefault(r.label, []).append(result.threshold)
        sources.add(result.threshold_source)
        paths[r.index] = _frame(result, r.fold)
    common = _common_bars(ok, paths)
    if common.empty:
        return None, "the runs share no test bars"
    labels = list(dict.fromkeys(r.label for r in ok))  # plan order: the baseline first
    models = []
    for label in labels:
        runs = [r for r in ok if r.label == label]
        seed_paths = [_seed_path(seed_runs, paths, common, "strategy") for seed_runs in _by_seed(runs)]
        models.append(_row(label, runs[0].architecture, seed_paths, cost, bpy))
    # The benchmarks depend on the bars and the costs only: any one seed's runs of any one model give them.
    one_seed = _by_seed([r for r in ok if r.label == labels[0]])[0]
    benchmarks = [_row(label, None, [_seed_path(one_seed, paths, common, name)], cost, bpy)
                  for name, label in BENCHMARKS]
    hold_sharpe = benchmarks[0][1].sharpe
    for row, averaged in models:
        row.psr_vs_buy_and_hold = _finite(probabilistic_sharpe_ratio(averaged, hold_sharpe))
    times = common.get_level_values("target_time")
    return TradingSummary(DEFAULT_MODE, DEFAULT_FEE_BPS, DEFAULT_SLIPPAGE_BPS, len(common),
                          f"{times.min():%Y-%m-%d %H:%M}", f"{times.max():%Y-%m-%d %H:%M}",
                          [row for row, _ in models + benchmarks], thresholds, sorted(sources)), None


def _frame(result, fold: int) -> pd.DataFrame:
    """One run's per-bar positions, position changes and net returns of the strategy and the benchmarks."""
    columns = {}
    for name in ("strategy", *(n for n, _ in BENCHMARKS)):
        path = getattr(result, name).path
        columns.update({(name, "pos"): path.positions, (name, "change"): path.position_changes,
                        (name, "r"): path.net_returns})
    index = pd.MultiIndex.from_arrays([np.full(result.n_bars, fold), result.target_time], names=["fold", "target_time"])
    return pd.DataFrame(columns, index=index)


def _common_bars(runs: list[RunRecord], paths: dict) -> pd.MultiIndex:
    """The (fold, target time) bars that every model and seed scored: in each fold, the bars all its runs share;
    a fold that lacks some model's or seed's run (it failed) gives none."""
    everyone = {(r.label, r.seed) for r in runs}
    parts = []
    for fold in sorted({r.fold for r in runs}):
        in_fold = [r for r in runs if r.fold == fold]
        if {(r.label, r.seed) for r in in_fold} != everyone:
            continue
        common = paths[in_fold[0].index].index
        for r in in_fold[1:]:
            common = common.intersection(paths[r.index].index)
        parts.append(common)
    if not parts:
        return pd.MultiIndex.from_arrays([[], []], names=["fold", "target_time"])
    union = parts[0]
    for part in parts[1:]:
        union = union.union(part)
    return union.sort_values()


def _by_seed(runs: list[RunRecord]) -> list[list[RunRecord]]:
    return [[r for r in runs if r.seed == seed] for seed in sorted({r.seed for r in runs})]


def _seed_path(runs: list[RunRecord], paths: dict, common: pd.MultiIndex, name: str) -> Path:
    """One seed's folds, in time order, on the common bars: the path of `name` (strategy or a benchmark)."""
    frame = pd.concat([paths[r.index] for r in runs])
    frame = frame.loc[frame.index.isin(common)].sort_index(level="target_time")
    net = frame[(name, "r")].to_numpy()
    equity = np.cumprod(1 + net)
    return Path(frame[(name, "pos")].to_numpy(), net, equity, drawdown(equity), frame[(name, "change")].to_numpy())


def _row(label: str, architecture: str | None, seed_paths: list[Path], cost: float,
         bpy: float) -> tuple[TradingRow, SharpeMoments]:
    """A row of the section and the moments of its seed-averaged per-bar net returns (for the PSR)."""
    metrics = [trading_metrics(p, cost, bpy).to_dict() for p in seed_paths]
    mean, std = {}, {}
    for key in metrics[0]:
        if key != "sharpe_ci95":
            mean[key], std[key] = _spread([m[key] for m in metrics])
    averaged = sharpe_moments(np.mean([p.net_returns for p in seed_paths], axis=0))
    scale = math.sqrt(bpy)
    low, high = sharpe_ci(averaged)
    row = TradingRow(
        label=label, architecture=architecture, seeds=len(seed_paths), mean=mean,
        std=std if len(seed_paths) > 1 else dict.fromkeys(std),
        sharpe=_finite(averaged.sharpe * scale), sharpe_ci95=[_finite(low * scale), _finite(high * scale)],
        psr_vs_zero=_finite(probabilistic_sharpe_ratio(averaged, 0.0)), psr_vs_buy_and_hold=None,
        seed_sharpes=[_finite(m["sharpe"]) for m in metrics] if architecture is not None else [],
    )
    return row, averaged


def _spread(values: list) -> tuple[float | None, float | None]:
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None, None
    return float(np.mean(vals)), (float(np.std(vals, ddof=1)) if len(vals) > 1 else None)


def _finite(value) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
