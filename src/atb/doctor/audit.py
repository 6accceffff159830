"""Version audit: what a model version claims must follow from its own files and the candles.

- the train/validation/test target times are ordered and disjoint, with the purge gap between the parts (a label
  of h bars needs the next part to start at least h bars after the last target of the previous one);
- predictions.parquet's test rows are exactly the test split's target times, every metric in metadata.json
  recomputes from them, and their closes are the candles' closes (actual_close at the target time, last_close h
  bars before it);
- the scaler in scaler.json is the mean and standard deviation of the feature rows a training window can see
  (every row up to the last training window's end) and the SD of the training targets, recomputed here from the
  candles without the pipeline's own fitting code;
- on real candles, the scores are not too good to be true.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from atb.doctor.leakage import REAL_ACCURACY_BOUND, REAL_SKILL_BOUND
from atb.doctor.result import CheckResult, Status
from atb.doctor.runs import scored_predictions
from atb.doctor.shared import pct, pipeline_features
from atb.errors import AtbError

RTOL = 1e-6  # recomputed values agree with the stored ones to this relative tolerance
ATOL = 1e-12
TOO_GOOD_P = 0.01  # the skill bound on real candles needs this one-sided DM p vs naive as well
SPLITS = ("train", "validation", "test")


@dataclass
class Finding:
    name: str
    ok: bool | None  # None: could not be checked (said why)
    text: str


def version_candles(meta, user_candles: pd.DataFrame | None) -> tuple[pd.DataFrame | None, str]:
    """The candles a version was trained on: the synthetic market regenerated from its parameters, or the span
    of the user's candles between its first and last candle; None with the reason when neither is possible."""
    data, tp = meta.data, meta.training_params
    first, last = pd.Timestamp(data.first_candle), pd.Timestamp(data.last_candle)
    if meta.synthetic and data.synthetic_params is not None and data.synthetic_params.seed is not None:
        from atb.data.synthetic import synthetic_candles

        params = data.synthetic_params
        return synthetic_candles(int(data.rows), symbol=meta.symbol, timeframe=tp.timeframe, seed=int(params.seed),
                                 ar_coef=float(params.ar_coef), end=last), "the synthetic market, regenerated"
    if user_candles is None:
        return None, "no candles given (--data-file or --data-source) to check the closes and the scaler against"
    span = user_candles[(user_candles["open_time"] >= first) & (user_candles["open_time"] <= last)]
    if len(span) != data.rows:
        return None, (f"the candles given hold {len(span)} candles from {first:%Y-%m-%d %H:%M} to "
                      f"{last:%Y-%m-%d %H:%M}, the version was trained on {data.rows}")
    span = span.reset_index(drop=True)
    span.attrs = dict(user_candles.attrs)
    return span, "the candles given"


def audit_version(version_dir: Path, candles: pd.DataFrame | None, candles_note: str, label: str) -> CheckResult:
    from atb.registry.store import read_metadata

    version_dir = Path(version_dir)
    try:
        meta = read_metadata(version_dir)
        predictions = scored_predictions(version_dir)
    except (AtbError, OSError, ValueError) as exc:
        return CheckResult("audit", label, Status.FAIL, f"cannot read the version: {exc}",
                           {"version": str(version_dir)})
    findings = [*_splits(meta), _predictions(meta, predictions), _metrics(meta, predictions)]
    if candles is None:
        findings.append(Finding("closes and scaler", None, candles_note))
    else:
        findings += [_closes(meta, predictions, candles), _scaler(meta, version_dir, candles)]
    if not meta.synthetic:
        findings.append(_plausible(meta))
    figures = {"version": str(version_dir), "candles": candles_note,
               "findings": [{"name": f.name, "ok": f.ok, "text": f.text} for f in findings]}
    bad = [f for f in findings if f.ok is False]
    unchecked = [f for f in findings if f.ok is None]
    if bad:
        return CheckResult("audit", label, Status.FAIL, "; ".join(f"{f.name}: {f.text}" for f in bad), figures,
                           "passed: " + "; ".join(f.text for f in findings if f.ok))
    summary = "; ".join(f.text for f in findings if f.ok)
    if unchecked:
        return CheckResult("audit", label, Status.WARN, summary, figures,
                           "not checked: " + "; ".join(f.text for f in unchecked))
    return CheckResult("audit", label, Status.PASS, summary, figures)


def _times(meta) -> dict[str, tuple[pd.Timestamp, pd.Timestamp, int]] | None:
    out = {}
    for name in SPLITS:
        split = getattr(meta.data, name)
        if split.start is None or split.end is None or split.n is None:
            return None
        out[name] = (pd.Timestamp(split.start), pd.Timestamp(split.end), int(split.n))
    return out


def _step(meta) -> pd.Timedelta:
    from atb.data.timeframes import timeframe_delta

    return timeframe_delta(meta.training_params.timeframe)


def _splits(meta) -> list[Finding]:
    times = _times(meta)
    if times is None:
        return [Finding("splits", False, "metadata.json lacks a split's start, end or count")]
    (t0, t1, _), (v0, v1, _), (s0, s1, _) = (times[k] for k in SPLITS)
    ordered = t0 <= t1 < v0 <= v1 < s0 <= s1
    h = meta.training_params.bars_ahead
    gaps = [(v0 - t1) / _step(meta), (s0 - v1) / _step(meta)]
    purge = min(gaps) >= h
    return [
        Finding("splits", ordered, "train/validation/test target times ordered and disjoint" if ordered else
                f"train {t0}..{t1}, validation {v0}..{v1}, test {s0}..{s1} overlap or are out of order"),
        Finding("purge", purge, f"the parts are {min(gaps):g}+ bars apart (a {h}-bar label needs {h}: purge "
                                f"{h - 1})" if purge else
                f"only {min(gaps):g} bars between two parts: a {h}-bar label spans them (purge {h - 1} missing)"),
    ]


def _predictions(meta, predictions: pd.DataFrame) -> Finding:
    times = _times(meta)
    if times is None:
        return Finding("predictions", False, "no test split in metadata.json to hold them against")
    start, end, n = times["test"]
    target = pd.to_datetime(predictions["target_time"], utc=True)
    problems = []
    windows = meta.evaluation_results.test_windows
    if len(predictions) != n or (windows is not None and windows != n):
        problems.append(f"{len(predictions)} test rows, the test split has {n}"
                        + (f" and evaluation_results.test_windows {windows}" if windows is not None else ""))
    if not (target.is_monotonic_increasing and target.is_unique):
        problems.append("target times not strictly increasing")
    if len(target) and (target.iloc[0] != start or target.iloc[-1] != end):
        problems.append(f"rows run {target.iloc[0]}..{target.iloc[-1]}, the test split {start}..{end}")
    return Finding("predictions", not problems, "; ".join(problems) or
                   f"{len(predictions)} test rows = the test split's target times")


def _metrics(meta, predictions: pd.DataFrame) -> Finding:
    from atb.evaluation.metrics import evaluate_forecasts  # scipy: deferred

    stored = meta.evaluation_results.to_json()
    recomputed = evaluate_forecasts(*(predictions[k].to_numpy(np.float64) for k in
                                      ("last_close", "actual_close", "predicted_close")),
                                    meta.training_params.bars_ahead)
    compared, differ = 0, []
    for key, value in _flat(recomputed).items():
        if key not in (flat := _flat(stored)):
            continue
        compared += 1
        if not _same(flat[key], value):
            differ.append(f"{key} {flat[key]!r} (recomputed {value!r})")
    if not compared:
        return Finding("metrics", False, "metadata.json holds none of the test metrics")
    return Finding("metrics", not differ, f"{len(differ)} of {compared} metrics differ from predictions.parquet: "
                   + "; ".join(differ[:4]) if differ else f"all {compared} metrics recompute from predictions.parquet")


def _closes(meta, predictions: pd.DataFrame, candles: pd.DataFrame) -> Finding:
    h = meta.training_params.bars_ahead
    open_time = pd.Index(candles["open_time"])
    target = pd.to_datetime(predictions["target_time"], utc=True)
    rows = open_time.get_indexer(target)
    if (rows < h).any():
        return Finding("closes", False, f"{int((rows < h).sum())} target times are not candles of the version's span")
    close = candles["close"].to_numpy(np.float64)
    consecutive = (open_time[rows - h] == target - h * _step(meta)).all()
    actual_ok = np.allclose(close[rows], predictions["actual_close"], rtol=1e-12, atol=0)
    last_ok = np.allclose(close[rows - h], predictions["last_close"], rtol=1e-12, atol=0)
    problems = [w for w, bad in (("a window's last candle is not h bars before its target", not consecutive),
                                 ("actual_close is not the close at the target time", not actual_ok),
                                 (f"last_close is not the close {h} bar(s) before the target", not last_ok)) if bad]
    return Finding("closes", not problems, "; ".join(problems) or
                   "actual_close and last_close are the candles' closes at the target time and h bars before")


def _scaler(meta, version_dir: Path, candles: pd.DataFrame) -> Finding:
    from atb.features.dataset import valid_anchors

    path = version_dir / (meta.artifacts.scaler or "scaler.json")
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return Finding("scaler", False, f"cannot read {path.name} ({exc})")
    tp, train = meta.training_params, _times(meta)
    names = list(saved.get("feature_names") or [])
    features = pipeline_features(candles, tp.timeframe)
    if train is None or not names or not set(names) <= set(features.columns):
        return Finding("scaler", None, "the scaler's features are not all computed by this atb")
    raw = features[names].to_numpy(np.float64)
    h, length = tp.bars_ahead, int(tp.sequence_length)
    anchors = valid_anchors(candles, raw, tp.timeframe, length, h)
    target = pd.DatetimeIndex(candles["open_time"])[anchors + h]
    start, end, n = train["train"]
    mask = (target >= start) & (target <= end)
    train_anchors = anchors[mask]
    if len(train_anchors) != n:
        return Finding("scaler", False, f"{len(train_anchors)} training windows in the candles, metadata says {n}")
    rows = raw[: train_anchors[-1] + 1]  # every row a training window can see, nothing later
    close = candles["close"].to_numpy(np.float64)
    mean, std = np.nanmean(rows, axis=0), np.nanstd(rows, axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    target_std = float(np.nanstd(np.log(close[train_anchors + h] / close[train_anchors])))
    checks = {"mean": (mean, saved.get("mean")), "std": (std, saved.get("std")),
              "target_std": (np.array([target_std]), [saved.get("target_std")])}
    bad = [f"{k} off by up to {pct(_rel_diff(a, b), 3)}" for k, (a, b) in checks.items() if not _close(a, b)]
    if bad:
        return Finding("scaler", False, "scaler.json is not fitted on the training rows: " + ", ".join(bad)
                       + " (fitted on rows a training window cannot see?)")
    return Finding("scaler", True, f"scaler.json = the statistics of the {len(rows):,} rows training windows see "
                                   f"({len(names)} features + target SD, within {RTOL:g})")


def _plausible(meta) -> Finding:
    ev = meta.evaluation_results
    accuracy, ci = ev.directional_accuracy, ev.directional_accuracy_ci95 or [None, None]
    skill, p = ev.rmse_skill_vs_naive, ev.dm_vs_naive.p_value_one_sided
    problems = []
    if ci[0] is not None and ci[0] > REAL_ACCURACY_BOUND:
        problems.append(f"directional accuracy {accuracy:.1f}% (95% lower bound {ci[0]:.1f}%) above "
                        f"{REAL_ACCURACY_BOUND:.0f}%")
    if skill is not None and p is not None and skill > REAL_SKILL_BOUND and p < TOO_GOOD_P:
        problems.append(f"RMSE skill {pct(skill)} vs naive (DM p {p:.2g}) above {pct(REAL_SKILL_BOUND, 0)}")
    if problems:
        return Finding("too good to be true", False, "; ".join(problems) + " on real returns: look for leakage")
    text = (f"scores plausible for real returns (dir. acc. {accuracy:.1f}%, skill {pct(skill, sign=True)})"
            if accuracy is not None and skill is not None else "scores plausible for real returns")
    if accuracy is not None and accuracy > REAL_ACCURACY_BOUND:
        return Finding("too good to be true", None, f"directional accuracy {accuracy:.1f}% above "
                       f"{REAL_ACCURACY_BOUND:.0f}% (not significantly): look for leakage")
    return Finding("too good to be true", True, text)


def _flat(doc: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is b
    a, b = float(a), float(b)
    if a != a or b != b:
        return a != a and b != b
    return bool(np.isclose(a, b, rtol=RTOL, atol=ATOL))


def _close(a, b) -> bool:
    b = np.asarray(b if b is not None else np.nan, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _rel_diff(a, b) -> float:
    b = np.asarray(b if b is not None else np.nan, np.float64)
    if a.shape != b.shape or np.isnan(b).any():
        return float("inf")
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), ATOL)))
