"""Comparing trained versions: the guide's table and "Comparison vs CNN-LSTM Baseline", with the naive
row and Diebold-Mariano tests computed on the test windows that the versions share."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from atb.evaluation.metrics import evaluate_forecasts
from atb.evaluation.stats import diebold_mariano
from atb.models import registry as architectures
from atb.registry.metadata import VersionMetadata
from atb.registry.predictions import keep_test, read_predictions
from atb.registry.store import read_metadata

SIGNIFICANCE = 0.05
NAIVE_LABEL = "naive (last close)"


@dataclass
class Entry:
    label: str  # e.g. "attention_lstm (default)"
    metadata: VersionMetadata
    predictions: pd.DataFrame  # the test rows: target_time, last_close, actual_close, predicted_close
    # (+ optional "pool": several seeds/folds in one frame, told apart by it; rows align on pool and time)
    validation: pd.DataFrame | None = None  # the validation rows (None: a version from before they were stored)

    @property
    def architecture(self) -> str:
        return self.metadata.training_params.architecture

    @property
    def variant(self) -> str:
        return self.metadata.training_params.architecture_variant

    @property
    def name(self) -> str:
        return self.metadata.version_id or self.label

    @property
    def symbol(self) -> str | None:
        return self.metadata.symbol

    @property
    def timeframe(self) -> str | None:
        return self.metadata.training_params.timeframe

    @property
    def horizon(self) -> int:
        return self.metadata.training_params.bars_ahead

    @property
    def synthetic(self) -> bool | None:
        return self.metadata.synthetic  # None for the benchmark's pooled entries (one settings file)

    @classmethod
    def from_version(cls, version_dir: Path, label: str | None = None) -> Entry:
        meta = read_metadata(version_dir)
        table = read_predictions(Path(version_dir), meta.artifacts.predictions)
        return cls(label or meta.training_params.label, meta, table.test, table.validation)


@dataclass
class Row:
    label: str
    architecture: str
    variant: str
    version: str | None
    metrics: dict  # evaluate_forecasts() on the common windows
    training_time_s: float | None = None
    fit_s_per_1k_windows: float | None = None  # fit time per 1,000 training windows processed (x epochs run)
    inference_ms_p50: float | None = None
    parameters: int | None = None
    rmse_improvement_pct: float | None = None  # vs the baseline; positive = better
    mae_improvement_pct: float | None = None
    dm_vs_baseline: dict | None = None  # {"statistic", "p_value", "p_value_one_sided"}; negative: this row better
    is_baseline: bool = False
    is_naive: bool = False

    @property
    def collapse_note(self) -> str:
        return " [collapsed]" if self.metrics.get("collapsed") else ""

    def value(self, key: str) -> Any:
        """A metric by its key (evaluation.metric_table)."""
        if key in self.metrics:
            return self.metrics[key]
        flat = self.flat()
        return flat[key] if key in flat else getattr(self, key, None)

    def spread(self, key: str) -> float | None:
        return None  # one seed

    def flat(self) -> dict:
        """The keys the benchmark's decision matrix reads (as a benchmark summary row has them, for one seed)."""
        base = self.dm_vs_baseline or {}
        naive = {} if self.is_naive else (self.metrics.get("dm_vs_naive") or {})
        return {"label": self.label, "architecture": self.architecture, "variant": self.variant,
                "is_baseline": self.is_baseline, "is_naive": self.is_naive, "test_rmse": self.metrics.get("test_rmse"),
                "rmse_improvement_pct": self.rmse_improvement_pct, "dm_p_vs_baseline": base.get("p_value"),
                "dm_p_one_sided_vs_baseline": base.get("p_value_one_sided"),
                "dm_stat_vs_baseline": base.get("statistic"),
                "rmse_skill_vs_naive": self.metrics.get("rmse_skill_vs_naive"),
                "dm_p_vs_naive": naive.get("p_value"), "dm_p_one_sided_vs_naive": naive.get("p_value_one_sided"),
                "training_time_s": self.training_time_s, "fit_s_per_1k_windows": self.fit_s_per_1k_windows,
                "inference_ms_p50": self.inference_ms_p50}


@dataclass
class Comparison:
    rows: list[Row]
    windows: int
    start: str
    end: str
    baseline: str | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """What `atb models compare --json` prints (NaN kept) and the benchmark's per-seed results hold."""
        return {"windows": self.windows, "start": self.start, "end": self.end, "baseline": self.baseline,
                "notes": self.notes, "rows": [asdict(r) for r in self.rows]}


def version_rows(meta: VersionMetadata) -> tuple[Row, Row]:
    """A version's own test scores, from its metadata, as the model's row and naive persistence's."""
    tp, ev, perf = meta.training_params, meta.evaluation_results, meta.performance
    model = Row(label=tp.architecture, architecture=tp.architecture, variant=tp.architecture_variant,
                version=meta.version_id, metrics=ev.to_json(), training_time_s=perf.training_time_s,
                fit_s_per_1k_windows=meta.fit_seconds_per_1k_windows(), inference_ms_p50=perf.inference_ms_p50,
                parameters=perf.parameters)
    naive = Row(label=NAIVE_LABEL, architecture="naive", variant="", version=None, is_naive=True,
                metrics={"test_rmse": ev.naive_test_rmse, "test_mae": ev.naive_test_mae, "mape": ev.naive_mape,
                         "actual_up_pct": ev.actual_up_pct})
    return model, naive


def compare(entries: list[Entry], baseline_architecture: str | None = None) -> Comparison:
    """Score every entry on the target times they all share, plus naive persistence on the same ones.
    The baseline is the table's (atb.models.registry) unless named."""
    baseline_architecture = baseline_architecture or architectures.baseline().name
    if not entries:
        raise ValueError("nothing to compare")
    horizon = check_comparable(entries)
    tests = [keep_test(e.predictions, e.name) for e in entries]  # a frame read as a whole may hold validation rows
    keys = _key_columns(tests)
    common = set(_keys(tests[0], keys))
    for p in tests[1:]:
        common &= set(_keys(p, keys))
    notes = []
    if any(len(p) != len(common) for p in tests):
        notes.append(f"the versions' test windows differ; all scores use the {len(common)} windows they share")
    if not common:
        raise ValueError("the versions share no test windows; compare versions trained on the same data")
    aligned = [p[[k in common for k in _keys(p, keys)]].sort_values(keys).reset_index(drop=True) for p in tests]
    base_idx = next((i for i, e in enumerate(entries) if e.architecture == baseline_architecture), None)
    rows = []
    for e, p in zip(entries, aligned, strict=True):
        perf = e.metadata.performance
        rows.append(Row(
            label=e.label, architecture=e.architecture, variant=e.variant, version=e.metadata.version_id,
            metrics=_metrics(p, horizon), training_time_s=perf.training_time_s,
            fit_s_per_1k_windows=e.metadata.fit_seconds_per_1k_windows(),
            inference_ms_p50=perf.inference_ms_p50, parameters=perf.parameters,
        ))
    if base_idx is not None:
        base, base_pred = rows[base_idx], aligned[base_idx]
        base.is_baseline = True
        base_err = base_pred["predicted_close"].to_numpy() - base_pred["actual_close"].to_numpy()
        for row, p in zip(rows, aligned, strict=True):
            if row is base:
                continue
            row.rmse_improvement_pct = _improvement(base.metrics["test_rmse"], row.metrics["test_rmse"])
            row.mae_improvement_pct = _improvement(base.metrics["test_mae"], row.metrics["test_mae"])
            err = p["predicted_close"].to_numpy() - p["actual_close"].to_numpy()
            row.dm_vs_baseline = diebold_mariano(err, base_err, horizon).to_dict()
    else:
        notes.append(f"no {baseline_architecture} version: improvements vs the baseline are not computed")
    first = aligned[0]
    naive = Row(label=NAIVE_LABEL, architecture="naive", variant="", version=None,
                metrics=_naive_metrics(first, horizon), is_naive=True)
    if base_idx is not None:
        naive.rmse_improvement_pct = _improvement(rows[base_idx].metrics["test_rmse"], naive.metrics["test_rmse"])
        naive.mae_improvement_pct = _improvement(rows[base_idx].metrics["test_mae"], naive.metrics["test_mae"])
    times = pd.to_datetime(first["target_time"], utc=True)
    return Comparison(rows + [naive], len(first), f"{times.min():%Y-%m-%d %H:%M}", f"{times.max():%Y-%m-%d %H:%M}",
                      rows[base_idx].label if base_idx is not None else None, notes)


# What must agree before two versions' scores mean anything side by side: (plural, value, wording of a value).
_MUST_MATCH = (
    ("symbols", lambda e: e.symbol, str),
    ("timeframes", lambda e: e.timeframe, str),
    ("horizons", lambda e: e.horizon, lambda h: f"{h} bar{'s' if h != 1 else ''} ahead"),
    ("data", lambda e: e.synthetic, lambda s: "synthetic" if s else "real market data"),
)


def check_comparable(entries: list[Entry]) -> int:
    """ValueError (one line) when the versions differ in symbol, timeframe, horizon or synthetic/real data;
    else their common horizon. Needed because 4h target times are a subset of 1h ones: a 1h and a 4h
    version would otherwise "share" test windows and be scored side by side. Unknown values are skipped."""
    for plural, value, word in _MUST_MATCH:
        known = [(e, value(e)) for e in entries if value(e) is not None]
        for e, v in known[1:]:
            first, v0 = known[0]
            if v != v0:
                raise ValueError(f"cannot compare versions with different {plural}: {first.name} is {word(v0)}, "
                                 f"{e.name} is {word(v)}")
    return entries[0].horizon


def _key_columns(frames: list[pd.DataFrame]) -> list[str]:
    # Pooled entries (the benchmark's seeds and folds) repeat target times; "pool" tells the copies apart.
    return ["pool", "target_time"] if all("pool" in p.columns for p in frames) else ["target_time"]


def _keys(p: pd.DataFrame, keys: list[str]) -> list:
    return list(zip(*(p[k] for k in keys), strict=True)) if len(keys) > 1 else list(p[keys[0]])


def _metrics(p: pd.DataFrame, horizon: int) -> dict:
    return evaluate_forecasts(p["last_close"].to_numpy(float), p["actual_close"].to_numpy(float),
                              p["predicted_close"].to_numpy(float), horizon)


def _naive_metrics(p: pd.DataFrame, horizon: int) -> dict:
    m = _metrics(p, horizon)
    nan = float("nan")
    return {"test_rmse": m["naive_test_rmse"], "test_mae": m["naive_test_mae"], "mape": m["naive_mape"],
            "directional_accuracy": nan, "directional_accuracy_ci95": [nan] * 2, "directional_p_value": nan,
            "directional_pt_statistic": nan, "directional_pt_p_value": nan,
            "directional_excluded": m["directional_excluded"], "rmse_skill_vs_naive": 0.0,
            "dm_vs_naive": {"statistic": nan, "p_value": nan, "p_value_one_sided": nan},
            "test_windows": m["test_windows"], "predicted_up_pct": nan, "actual_up_pct": m["actual_up_pct"],
            "collapsed": False, "collapse_reason": "", "forecast_spread_ratio": nan}


def _improvement(baseline: float, value: float) -> float:
    return float(100 * (baseline - value) / baseline) if baseline else float("nan")


def guide_verdict(improvement_pct: float, p_one_sided: float | None) -> str:
    """The guide's wording for an improvement, with the one-sided DM test it leaves out (H1: lower loss)."""
    if not np.isfinite(improvement_pct) or improvement_pct <= 0:
        return f"✗ WORSE than the baseline ({improvement_pct:+.1f}% RMSE)" if improvement_pct < 0 else (
            "✗ NO IMPROVEMENT over the baseline")
    if improvement_pct >= 10:
        verdict = "✓ EXCELLENT - Proceed to Phase 2"
    elif improvement_pct >= 5:
        verdict = "⚠ GOOD - Consider Phase 2"
    else:
        verdict = "⚠ MARGINAL - Investigate further"
    if p_one_sided is None or not np.isfinite(p_one_sided):
        return verdict
    significant = p_one_sided < SIGNIFICANCE
    return f"{verdict} ({'significant' if significant else 'not significant'}, one-sided DM p={p_one_sided:.3f})"
