"""The benchmark's `--ensemble`: after the training runs, one stacking ensemble per seed and fold of their members
(atb.ensemble; combiner fitted on validation), recorded as runs of the "ensemble" model so that the summary, the
trading section and the report treat it like any model; and the test the decision quotes: the ensemble against the
best single model.

"The best single model" is decided on validation, never on test: the model (architecture and variant) whose
validation forecasts have the lowest squared error pooled over every seed and fold. The ensemble is then tested
against it on the pooled test windows as the summary tests any two models: each window's squared error averaged
over the seeds first (the seeds share their windows), a one-sided Diebold-Mariano test (H1: the ensemble's loss is
lower), the pooled RMSE change it tests, and that change in every seed.
"""

from __future__ import annotations

import time
import traceback

import numpy as np
import pandas as pd

from atb.benchmark.plan import RunSpec
from atb.benchmark.records import Interrupted, Observer, RunRecord, SilentObserver, fill_record
from atb.benchmark.settings import BenchSettings, ModelChoice
from atb.ensemble import ARCHITECTURE, DEFAULT_METHOD
from atb.ensemble import build as ensemble_build  # looked up at call time: tests replace build_ensemble
from atb.ensemble.from_benchmark import group_runs
from atb.errors import AtbError
from atb.evaluation.comparison import Entry
from atb.evaluation.stats import diebold_mariano_losses

BEST_RULE = "the lowest validation MSE pooled over every seed and fold (decided on validation)"


def planned_ensembles(settings: BenchSettings) -> int:
    return len(settings.seed_list) * settings.walk_forward if settings.ensemble else 0


def run_ensembles(settings: BenchSettings, records: list[RunRecord], observer: Observer | None = None,
                  total: int | None = None) -> list[RunRecord]:
    """One ensemble per seed and fold of the completed runs; a group that cannot be combined is a failed record.
    Ctrl-C: Interrupted with the records so far."""
    observer = observer or SilentObserver()
    method = DEFAULT_METHOD
    out = []
    index = max((r.index for r in records), default=0)
    total = total or index + planned_ensembles(settings)
    for group in group_runs([r.to_dict() for r in records]):
        index += 1
        spec = RunSpec(index, ModelChoice(ARCHITECTURE, method), group.seed, group.fold, settings.walk_forward,
                       None)
        reporter = observer.run_started(spec, total)
        record = RunRecord(index, ARCHITECTURE, method, group.seed, group.fold, status="failed")
        t0 = time.perf_counter()
        try:
            if not group.enough:
                raise AtbError(f"{len(group.members)} completed run(s) in seed {group.seed} fold {group.fold}: an "
                               "ensemble needs at least 2")
            request = ensemble_build.EnsembleRequest(
                members=group.members, method=method, data_file=settings.data_file, threads=settings.threads,
                log_to_db=settings.log_to_db,
                extra={"benchmark": "phase1", "seed": group.seed, "fold": group.fold,
                       "walk_forward": settings.walk_forward, "members": group.labels})
            outcome = ensemble_build.build_ensemble(request, reporter)
        except KeyboardInterrupt:
            record.status, record.error = "interrupted", "interrupted by the user"
            _close(reporter)
            raise Interrupted([*out, record]) from None
        except AtbError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug in one ensemble must not cost the benchmark its results
            record.error = f"{type(exc).__name__}: {exc}"
            record.traceback = traceback.format_exc()
        else:
            fill_record(record, outcome.version_dir, outcome.metadata)
        finally:
            record.wall_s = time.perf_counter() - t0
        _close(reporter)
        out.append(record)
        observer.run_finished(spec, total, record)
    return out


def versus_best_single(records: list[RunRecord], entries: dict[int, Entry]) -> dict | None:
    """The ensemble against the best single model (module docstring); None without both."""
    ok = [r for r in records if r.ok and r.index in entries]
    ensembles = [r for r in ok if r.architecture == ARCHITECTURE]
    singles = [r for r in ok if r.architecture != ARCHITECTURE]
    validation: dict[str, list[np.ndarray]] = {}
    for r in singles:
        v = entries[r.index].validation
        if v is not None and len(v):
            validation.setdefault(r.label, []).append((v["predicted_close"] - v["actual_close"]).to_numpy() ** 2)
    if not ensembles or not validation:
        return None
    mse = {label: float(np.mean(np.concatenate(parts))) for label, parts in validation.items()}
    best = min(mse, key=mse.get)
    label = ensembles[0].label
    frames = {name: _test_frame([r for r in ok if r.label == name], entries) for name in (label, best)}
    common = frames[label].index.intersection(frames[best].index).sort_values()
    if common.empty:
        return None
    loss = {name: ((f.loc[common, "predicted_close"] - f.loc[common, "actual_close"]) ** 2) for name, f in
            frames.items()}
    averaged = {name: s.groupby(level=["fold", "target_time"]).mean() for name, s in loss.items()}
    dm = diebold_mariano_losses(averaged[label].to_numpy(), averaged[best].to_numpy())
    seeds = sorted(set(common.get_level_values("seed")))
    per_seed = [_improvement(loss[label].xs(s, level="seed"), loss[best].xs(s, level="seed")) for s in seeds]
    return {"ensemble": label, "best_single": best, "best_rule": BEST_RULE, "validation_mse": mse,
            "windows": len(averaged[label]), "seeds": seeds,
            "rmse_improvement_pct": _improvement(averaged[label], averaged[best]),
            "rmse_improvement_pct_seeds": per_seed,
            "dm": {"statistic": _finite(dm.statistic), "p_value": _finite(dm.p_value),
                   "p_value_one_sided": _finite(dm.p_value_one_sided), "n": dm.n}}


def _test_frame(runs: list[RunRecord], entries: dict[int, Entry]) -> pd.DataFrame:
    parts = [entries[r.index].predictions.assign(seed=r.seed, fold=r.fold) for r in runs]
    return pd.concat(parts, ignore_index=True).set_index(["seed", "fold", "target_time"])


def _improvement(loss: pd.Series, reference: pd.Series) -> float | None:
    """The RMSE change in % (positive: lower RMSE than the reference), from per-window squared errors."""
    ref = float(reference.mean())
    return _finite(100 * (1 - np.sqrt(float(loss.mean())) / np.sqrt(ref))) if ref > 0 else None


def _finite(value) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _close(reporter) -> None:
    finish = getattr(reporter, "close", None)
    if callable(finish):
        finish()
