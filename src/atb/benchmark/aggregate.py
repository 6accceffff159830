"""From the runs' predictions to one summary per model: mean ± std across seeds and pooled DM tests.

All metrics come from ``atb.evaluation.comparison.compare`` (the same numbers as ``atb models compare``):
one comparison per seed, each pooled over the walk-forward folds (distinct test windows), and the summary
is the mean ± std of those across seeds.

Significance is tested on the pooled test windows (every fold's windows). Seeds share their windows,
so simply concatenating the seeds' forecasts would count each window once per seed and overstate the
evidence (the DM statistic grows with sqrt(seeds) when seeds agree). Instead each window's squared error
is averaged over the seeds first, and the DM test runs on those per-window losses. compare()'s own test on
the plain concatenation is kept in the results as ``*_concat_p`` for reference.

The improvement that is claimed and the test of it are on one quantity: the mean squared error pooled over
seeds and windows. ``rmse_improvement_pct`` (vs the baseline) and ``rmse_skill_vs_naive`` in a summary row
are that pooled RMSE's, so their sign is the sign of the DM statistic's mean loss difference; the per-seed
values (``*_seeds``) show the spread, and a claim of "better" also needs the same sign in every seed.

Pooling needs the folds' test windows to be distinct: a target time that two folds of one model and seed
both scored is refused (OverlappingFolds), never counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from atb.benchmark.records import RunRecord
from atb.errors import DataError
from atb.evaluation.comparison import Comparison, Entry, Row, compare
from atb.evaluation.stats import diebold_mariano_losses
from atb.registry.metadata import Performance, VersionMetadata

if TYPE_CHECKING:
    from atb.benchmark.trading import TradingSummary

SPREAD_METRICS = ("test_rmse", "test_mae", "mape", "directional_accuracy", "rmse_skill_vs_naive",
                  "predicted_up_pct", "actual_up_pct", "directional_excluded")
SPREAD_FIELDS = ("training_time_s", "fit_s_per_1k_windows", "inference_ms_p50", "rmse_improvement_pct",
                 "mae_improvement_pct")


class OverlappingFolds(DataError):
    """Two walk-forward folds of one model and seed scored the same target time."""


@dataclass
class SummaryRow:
    label: str
    architecture: str
    variant: str
    is_baseline: bool
    is_naive: bool
    seeds: int  # how many seeds the means are over
    mean: dict  # metric -> mean across seeds
    std: dict  # metric -> sample std across seeds (None with one seed)
    directional_accuracy_ci95: list  # the per-seed Wilson intervals, averaged
    parameters: int | None
    dm_vs_baseline: dict | None  # {"statistic", "p_value", "p_value_one_sided", "n"}: pooled, seed-averaged losses
    dm_vs_naive: dict | None
    seed_values: dict = field(default_factory=dict)  # "rmse_improvement_pct"/"rmse_skill_vs_naive" -> per seed
    directional_pt_p_median: float | None = None  # the per-seed Pesaran-Timmermann p-values' median
    collapsed_seeds: int = 0  # seeds whose forecasts collapsed (evaluation_results.collapsed)
    dm_vs_baseline_concat_p: float | None = None  # compare() on the plain concatenation (for reference)
    dm_vs_naive_concat_p: float | None = None
    trading: dict = field(default_factory=dict)  # the trading section's figures (backtest_<key>), see trading.py

    @property
    def collapse_note(self) -> str:
        return f" [collapsed: {self.collapsed_seeds}/{self.seeds} seeds]" if self.collapsed_seeds else ""

    def value(self, key: str) -> Any:
        """A metric by its key (evaluation.metric_table): the mean across seeds, or the pooled test's."""
        if key in self.mean:
            return self.mean[key]
        if key == "directional_pt_p_value":
            return self.directional_pt_p_median  # across seeds: the median of the per-seed p-values
        if key == "directional_accuracy_ci95":
            return self.directional_accuracy_ci95
        return self.flat().get(key)

    def spread(self, key: str) -> float | None:
        return self.std.get(key)

    def flat(self) -> dict:
        """One flat dict: what the decision matrix reads (and what a hand-made test result looks like)."""
        out = {"label": self.label, "architecture": self.architecture, "variant": self.variant,
               "is_baseline": self.is_baseline, "is_naive": self.is_naive, "seeds": self.seeds,
               "parameters": self.parameters, "directional_accuracy_ci95": self.directional_accuracy_ci95,
               "dm_p_vs_baseline": _p(self.dm_vs_baseline), "dm_p_vs_naive": _p(self.dm_vs_naive),
               "dm_p_one_sided_vs_baseline": _p(self.dm_vs_baseline, "p_value_one_sided"),
               "dm_p_one_sided_vs_naive": _p(self.dm_vs_naive, "p_value_one_sided"),
               "dm_stat_vs_baseline": _p(self.dm_vs_baseline, "statistic"),
               "dm_stat_vs_naive": _p(self.dm_vs_naive, "statistic"),
               "dm_p_vs_baseline_concat": self.dm_vs_baseline_concat_p,
               "dm_p_vs_naive_concat": self.dm_vs_naive_concat_p,
               "directional_pt_p_median": self.directional_pt_p_median, "collapsed_seeds": self.collapsed_seeds}
        for key, values in self.seed_values.items():
            out[f"{key}_seeds"] = values
        for key, value in self.mean.items():
            out[key] = value
            out[f"{key}_std"] = self.std.get(key)
        out.update(self.trading)
        return out


@dataclass
class Summary:
    rows: list[SummaryRow]
    seeds: list[int]
    folds: list[int]
    windows: int  # distinct test windows that every model was scored on (all folds)
    start: str
    end: str
    baseline: str | None
    per_seed: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trading: TradingSummary | None = None  # the backtest of every model (attach_trading)
    trading_note: str | None = None  # why there is no trading section

    def row(self, label: str) -> SummaryRow | None:
        return next((r for r in self.rows if r.label == label), None)

    def attach_trading(self, trading: TradingSummary | None, why_not: str | None = None) -> None:
        """The trading section, and each model's figures in its row (what the decision reads)."""
        self.trading, self.trading_note = trading, why_not
        for r in self.rows:
            r.trading = trading.flat(r.label) if trading is not None and not r.is_naive else {}

    def to_dict(self) -> dict:
        return {"seeds": self.seeds, "folds": self.folds, "windows": self.windows, "start": self.start,
                "end": self.end, "baseline": self.baseline, "notes": self.notes,
                "trading": self.trading.to_dict() if self.trading is not None else (
                    {"note": self.trading_note} if self.trading_note else None),
                "rows": [r.flat() for r in self.rows],
                "per_seed": [{"seed": s, **c.to_dict()} for s, c in zip(self.seeds, self.per_seed, strict=True)]}


def load_entries(records: list[RunRecord]) -> dict[int, Entry]:
    """The predictions of every completed run, by run index (a run whose files cannot be read is skipped)."""
    entries = {}
    for r in records:
        if r.ok and r.version_dir:
            try:
                entries[r.index] = Entry.from_version(r.version_dir)
            except Exception as exc:  # noqa: BLE001 - recorded; the other runs still count
                r.status, r.error = "failed", f"results unreadable: {type(exc).__name__}: {exc}"
    return entries


def summarize(records: list[RunRecord], entries: dict[int, Entry]) -> Summary | None:
    """None when no run completed."""
    ok = [r for r in records if r.ok and r.index in entries]
    if not ok:
        return None
    labels = list(dict.fromkeys(r.label for r in ok))  # plan order: the baseline first
    seeds = sorted({r.seed for r in ok})
    folds = sorted({r.fold for r in ok})
    check_disjoint_folds(ok, entries)
    per_seed, used_seeds, notes = [], [], []
    for seed in seeds:
        group = [_pooled(label, [(f"f{r.fold}", entries[r.index]) for r in ok if r.seed == seed and r.label == label])
                 for label in labels]
        group = [e for e in group if e is not None]
        try:
            per_seed.append(compare(group))
            used_seeds.append(seed)
        except ValueError as exc:
            notes.append(f"seed {seed}: {exc}")
    if not per_seed:
        return None
    concat = compare([_pooled(label, [(f"s{r.seed}/f{r.fold}", entries[r.index]) for r in ok if r.label == label])
                      for label in labels])
    dm, windows = _seed_averaged_dm(ok, entries, labels, concat.baseline)
    rows = [_summary_row(row, per_seed, dm, concat) for row in concat.rows]
    for comp in per_seed:
        notes += [n for n in comp.notes if n not in notes]
    return Summary(rows, used_seeds, folds, windows, concat.start, concat.end, concat.baseline, per_seed, notes)


def check_disjoint_folds(records: list[RunRecord], entries: dict[int, Entry]) -> None:
    """Raise OverlappingFolds when two folds of one model and seed share a test target time."""
    groups: dict[tuple[str, int], list[RunRecord]] = {}
    for r in records:
        groups.setdefault((r.label, r.seed), []).append(r)
    for (label, seed), runs in groups.items():
        if len(runs) < 2:
            continue
        times = pd.concat([entries[r.index].predictions[["target_time"]].assign(fold=r.fold) for r in runs],
                          ignore_index=True)
        repeated = times[times.duplicated("target_time", keep=False)]
        if repeated.empty:
            continue
        first = repeated["target_time"].min()
        folds = sorted(repeated.loc[repeated["target_time"] == first, "fold"])
        raise OverlappingFolds(
            f"{label} seed {seed}: {repeated['target_time'].nunique()} test target times are scored by more than "
            f"one walk-forward fold (the first, {first:%Y-%m-%d %H:%M}, by folds {', '.join(map(str, folds))}); "
            "the folds' test windows must be disjoint, so they are not pooled"
        )


def _pooled(label: str, parts: list[tuple[str, Entry]]) -> Entry | None:
    """One Entry holding several runs of a model; ``pool`` tells their test windows apart."""
    if not parts:
        return None
    first = parts[0][1].metadata
    perf = [e.metadata.performance for _, e in parts]
    meta = VersionMetadata(
        training_params=first.training_params,
        version_id=first.version_id if len(parts) == 1 else None,
        performance=Performance(
            training_time_s=_mean([p.training_time_s for p in perf]),
            inference_ms_p50=_mean([p.inference_ms_p50 for p in perf]),
            fit_s_per_1k_windows=_mean([e.metadata.fit_seconds_per_1k_windows() for _, e in parts]),
            parameters=perf[0].parameters,
        ),
    )
    frames = [e.predictions.assign(pool=key) for key, e in parts]
    return Entry(label, meta, pd.concat(frames, ignore_index=True))


def _seed_averaged_dm(ok: list[RunRecord], entries: dict[int, Entry], labels: list[str],
                      baseline: str | None) -> tuple[dict, int]:
    """label -> {"vs_baseline", "vs_naive"}: (DMResult, pooled improvement in %) on the pooled windows, each
    window's squared error averaged over the seeds; and the number of windows."""
    frames = {label: prediction_frame([r for r in ok if r.label == label], entries) for label in labels}
    common = frames[labels[0]].index
    for label in labels[1:]:
        common = common.intersection(frames[label].index)
    common = common.sort_values()
    loss = {label: window_losses(frame.loc[common]) for label, frame in frames.items()}
    first = frames[labels[0]].loc[common]
    naive = ((first["last_close"] - first["actual_close"]) ** 2).groupby(level=["fold", "target_time"]).mean()
    out = {}
    for label in labels:
        res = {"vs_naive": _tested(loss[label], naive)}
        if baseline is not None and label != baseline:
            res["vs_baseline"] = _tested(loss[label], loss[baseline])
        out[label] = res
    return out, len(naive)


def prediction_frame(records: list[RunRecord], entries: dict[int, Entry]) -> pd.DataFrame:
    """The runs' test predictions (one model, several seeds and folds), indexed by (seed, fold, target_time)."""
    parts = [entries[r.index].predictions.assign(seed=r.seed, fold=r.fold) for r in records]
    return pd.concat(parts, ignore_index=True).set_index(["seed", "fold", "target_time"])


def window_losses(frame: pd.DataFrame) -> pd.Series:
    """Each window's squared error averaged over the seeds (the seeds share their windows), by (fold, target_time)."""
    return ((frame["predicted_close"] - frame["actual_close"]) ** 2).groupby(level=["fold", "target_time"]).mean()


def _tested(loss: pd.Series, reference: pd.Series) -> tuple:
    """The DM test on per-window losses, and the pooled RMSE improvement it tests (positive = lower loss)."""
    pooled = 100 * (1 - np.sqrt(loss.mean()) / np.sqrt(reference.mean())) if reference.mean() > 0 else np.nan
    return diebold_mariano_losses(loss.to_numpy(), reference.to_numpy()), float(pooled)


def _summary_row(row: Row, per_seed: list[Comparison], dm: dict, concat: Comparison) -> SummaryRow:
    matches = [r for comp in per_seed for r in comp.rows if r.label == row.label and r.is_naive == row.is_naive]
    mean, std = {}, {}
    for key in SPREAD_METRICS:
        mean[key], std[key] = _spread([m.metrics[key] for m in matches])
    for key in SPREAD_FIELDS:
        mean[key], std[key] = _spread([getattr(m, key) for m in matches])
    cis = np.array([m.metrics["directional_accuracy_ci95"] for m in matches], dtype=float)
    ci = [_mean(list(cis[:, 0])), _mean(list(cis[:, 1]))] if len(cis) else [None, None]
    seed_values = {"rmse_improvement_pct": [_finite(m.rmse_improvement_pct) for m in matches],
                   "rmse_skill_vs_naive": [_finite(m.metrics["rmse_skill_vs_naive"]) for m in matches]}
    if row.is_naive:  # the same forecast for every seed: a spread of zero says nothing
        std = dict.fromkeys(std)
        seed_values = {}
    tests = dm.get(row.label, {}) if not row.is_naive else {}
    # The headline improvement is the pooled one that the DM test is on (see the module docstring).
    if "vs_baseline" in tests:
        mean["rmse_improvement_pct"] = tests["vs_baseline"][1]
    if "vs_naive" in tests:
        mean["rmse_skill_vs_naive"] = tests["vs_naive"][1] / 100
    return SummaryRow(
        label=row.label, architecture=row.architecture, variant=row.variant, is_baseline=row.is_baseline,
        is_naive=row.is_naive, seeds=len(matches), mean=mean, std=std, directional_accuracy_ci95=ci,
        parameters=row.parameters, dm_vs_baseline=_dm_dict(tests.get("vs_baseline")),
        dm_vs_naive=_dm_dict(tests.get("vs_naive")), seed_values=seed_values,
        directional_pt_p_median=None if row.is_naive else _median([m.metrics["directional_pt_p_value"]
                                                                   for m in matches]),
        collapsed_seeds=sum(bool(m.metrics.get("collapsed")) for m in matches),
        dm_vs_baseline_concat_p=_finite(row.dm_vs_baseline["p_value"]) if row.dm_vs_baseline else None,
        dm_vs_naive_concat_p=None if row.is_naive else _finite(row.metrics["dm_vs_naive"]["p_value"]),
    )


def _dm_dict(tested: tuple | None) -> dict | None:
    if tested is None:
        return None
    result = tested[0]
    return {"statistic": _finite(result.statistic), "p_value": _finite(result.p_value),
            "p_value_one_sided": _finite(result.p_value_one_sided), "n": result.n}


def _spread(values: list) -> tuple[float | None, float | None]:
    vals = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not vals:
        return None, None
    return float(np.mean(vals)), (float(np.std(vals, ddof=1)) if len(vals) > 1 else None)


def _mean(values: list) -> float | None:
    return _spread(values)[0]


def _median(values: list) -> float | None:
    vals = [float(v) for v in values if v is not None and np.isfinite(v)]
    return float(np.median(vals)) if vals else None


def _finite(value) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _p(test: dict | None, key: str = "p_value") -> float | None:
    return None if test is None else test.get(key)

