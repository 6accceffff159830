"""One stacking ensemble end to end: members -> checks -> combiner fitted on their validation predictions -> the
test split scored once (full protocol) -> one model.onnx, parity-checked -> a published registry version.

The protocol (DESIGN.md, "Ensembles"):
- the combiner (combiner.py) sees the members' validation rows only; the member with the lowest validation MSE
  of its price forecasts is "the best member", also decided on validation;
- the ensemble's forecasts: ``last_close * exp(intercept + sum_i w_i * ln(predicted_close_i / last_close))`` on
  every validation and test row of the members (predictions.parquet holds both, as for any version);
- the test rows are scored once: evaluate_forecasts (naive persistence, DM vs naive, Pesaran-Timmermann), DM vs
  the best member and vs every member, and the backtest as every training run writes it (its threshold chosen on
  the ensemble's validation forecasts, which are in-sample for the combiner but never test);
- model.onnx (composite.py) takes one window of raw features and returns the combined log return; it must match
  the torch composite (models.export.check_parity, as every model) and reproduce predictions.parquet alone
  (``ensemble.predictions_max_abs_diff``, log return, every row; the build fails above REPRODUCE_TOLERANCE);
- published as `<time>_ensemble_<method>` through the registry's staging folder: nothing half-written, `latest`
  moves only after every check; logged in the run log like a training run.
"""

from __future__ import annotations

import platform
import resource
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from atb import __version__
from atb.ensemble import ARCHITECTURE, DEFAULT_METHOD
from atb.ensemble.combiner import Combiner, check_method, fit_combiner
from atb.ensemble.members import Member, aligned, load_members, realised
from atb.errors import ModelError
from atb.features.indicators import FEATURES
from atb.registry.metadata import (
    SCHEMA_VERSION,
    Artifacts,
    DataInfo,
    DMTest,
    EnsembleInfo,
    EnsembleMember,
    Environment,
    Evaluation,
    Onnx,
    Performance,
    TrainingParams,
    VersionMetadata,
)
from atb.registry.predictions import FILE as PREDICTIONS_FILE
from atb.registry.predictions import predictions_frame
from atb.registry.store import ModelStore, registry_symbol, write_json, write_metadata
from atb.registry.version_id import version_name

# model.onnx alone vs predictions.parquet, in log return (the ensemble's output unit): 1e-6 is 0.01 bp, 2 cents
# at 20,000 USDT; float32 arithmetic in the graph differs from the float64 combination by ~1e-9.
REPRODUCE_TOLERANCE = 1e-6
INPUT_SPEC = ("raw features (atb.features.indicators.FEATURES, unscaled) of the longest member's window; each "
              "member takes its last sequence_length rows and applies its own scaler inside the graph; output: the "
              "combined log return (scaler.json is the identity, target_std 1)")


class Reporter:
    """What the build reports as it goes (the CLI's RichReporter in cli/progress.py has it)."""

    def stage(self, message: str) -> None:
        pass


@dataclass
class EnsembleRequest:
    members: list[Path]  # the members' version folders
    method: str = DEFAULT_METHOD
    models_dir: Path | None = None  # the registry to publish in (None: the members' own)
    data_file: str | None = None  # the candle file the members were trained on, when they were
    threads: int | None = None  # torch CPU threads for the export (None: ATB_THREADS or 1)
    log_to_db: bool = True
    extra: dict = field(default_factory=dict)  # recorded in metadata (e.g. the benchmark's seed and fold)


@dataclass
class EnsembleOutcome:
    version_dir: Path
    metadata: VersionMetadata


@dataclass(frozen=True)
class Stack:
    """The fit: the combiner and the validation facts, decided before any test row is read."""

    combiner: Combiner
    validation_mse: list[float]  # each member's, price scale
    best: int  # index of the member with the lowest validation MSE


def fit_stack(members: list[Member], method: str) -> Stack:
    """The combiner and the best member, from the members' validation rows alone (never a test row)."""
    base, returns = aligned(members, "validation")
    combiner = fit_combiner(method, returns, realised(base))
    actual = base["actual_close"].to_numpy(np.float64)
    mse = [float(np.mean((m.rows("validation")["predicted_close"].to_numpy(np.float64) - actual) ** 2))
           for m in members]
    return Stack(combiner, mse, int(np.argmin(mse)))


def forecasts(members: list[Member], combiner: Combiner, split: str) -> pd.DataFrame:
    """The ensemble's forecasts of one split: target_time, last_close, actual_close, predicted_close."""
    base, returns = aligned(members, split)
    return base.assign(predicted_close=base["last_close"].to_numpy(np.float64) * np.exp(combiner.combine(returns)))


def build_ensemble(req: EnsembleRequest, reporter: Reporter | None = None) -> EnsembleOutcome:
    """Fit, score, export and publish one ensemble; AtbError (one line) on bad input."""
    check_method(req.method)
    reporter = reporter or Reporter()
    from atb.tracking import open_run_log  # deferred: SQLAlchemy loads only when a run starts

    members = load_members(req.members)  # bad members: one line, before any progress is shown
    run_log = open_run_log(enabled=req.log_to_db)
    created = datetime.now(timezone.utc)
    try:
        return _build(req, members, reporter, run_log, created)
    except KeyboardInterrupt as exc:
        run_log.fail(str(exc) or "interrupted", status="interrupted")
        raise
    except BaseException as exc:
        run_log.fail(f"{type(exc).__name__}: {exc}")
        raise


def _build(req: EnsembleRequest, members: list[Member], reporter: Reporter, run_log, created: datetime):
    from atb.backtest import training_backtest  # numpy/scipy: deferred with the rest
    from atb.evaluation.metrics import evaluate_forecasts

    ref = _reference(members)
    tp = ref.metadata.training_params
    name = version_name(created, ARCHITECTURE, req.method)
    run_log.start({"version_id": name, "symbol": ref.metadata.symbol, "timeframe": tp.timeframe,
                   "architecture": ARCHITECTURE, "variant": req.method,
                   "params": {"members": [m.name for m in members], "method": req.method},
                   "data_source": ref.metadata.data.source, "data_start": tp.start, "data_end": tp.end})

    reporter.stage(f"Fitting the {req.method} combiner on the members' validation predictions")
    t0 = time.perf_counter()
    stack = fit_stack(members, req.method)
    fit_s = time.perf_counter() - t0
    validation = forecasts(members, stack.combiner, "validation")

    reporter.stage("Scoring the untouched test split")
    test = forecasts(members, stack.combiner, "test")
    horizon = ref.metadata.training_params.bars_ahead
    evaluation = evaluate_forecasts(*(test[c].to_numpy(np.float64) for c in ("last_close", "actual_close",
                                                                             "predicted_close")), horizon)
    details = _member_details(members, stack, test, horizon)
    backtest = training_backtest(test, validation, horizon=horizon, timeframe=tp.timeframe)

    run = _Run(req, name, created, members, ref, stack, fit_s, validation, test, evaluation, details, backtest)
    folder = registry_symbol(ref.metadata.symbol, bool(ref.metadata.synthetic))
    store = ModelStore(req.models_dir or members[0].path.resolve().parents[2])
    try:
        version_dir, metadata = _save(store, folder, run, reporter)
    except OSError as exc:
        raise ModelError(f"cannot write the ensemble under {store.price_dir(folder)}: {exc.strerror or exc}") from None
    run_log.complete(metadata)
    return EnsembleOutcome(version_dir, metadata)


@dataclass
class _Run:
    req: EnsembleRequest
    name: str
    created: datetime
    members: list[Member]
    ref: Member  # the member whose candles are cut (the longest history)
    stack: Stack
    fit_s: float
    validation: pd.DataFrame
    test: pd.DataFrame
    evaluation: dict
    details: list[EnsembleMember]
    backtest: dict

    @property
    def window(self) -> int:
        return max(m.sequence_length for m in self.members)


def _reference(members: list[Member]) -> Member:
    """The member with the earliest first candle (ties: the longest window): its candles cover every member's."""
    return min(members, key=lambda m: (m.metadata.data.first_candle or "", -m.sequence_length))


def _member_details(members: list[Member], stack: Stack, test: pd.DataFrame, horizon: int) -> list[EnsembleMember]:
    from atb.evaluation.metrics import rmse
    from atb.evaluation.stats import diebold_mariano

    actual = test["actual_close"].to_numpy(np.float64)
    err = test["predicted_close"].to_numpy(np.float64) - actual
    out = []
    for m, w, mse in zip(members, stack.combiner.weights, stack.validation_mse, strict=True):
        member_err = m.rows("test")["predicted_close"].to_numpy(np.float64) - actual
        tp = m.metadata.training_params
        out.append(EnsembleMember(
            version_id=m.name, architecture=tp.architecture, architecture_variant=tp.architecture_variant,
            sequence_length=m.sequence_length, weight=float(w), validation_mse=mse, test_rmse=rmse(member_err),
            dm_ensemble_vs_member=DMTest.from_json(diebold_mariano(err, member_err, horizon).to_dict())))
    return out


def _save(store: ModelStore, folder: str, run: _Run, reporter: Reporter) -> tuple[Path, VersionMetadata]:
    # torch and onnx: deferred (the composite and its export)
    import torch

    from atb.ensemble.composite import build_composite, count_parameters
    from atb.ensemble.windows import anchor_rows, load_candles, raw_windows
    from atb.evaluation.latency import measure_latency
    from atb.models.export import check_parity, export_onnx
    from atb.training.device import configure_threads

    configure_threads(run.req.threads)
    meta = run.ref.metadata
    tp = meta.training_params
    reporter.stage(f"Cutting {run.window}-candle windows of raw features from the members' candles")
    candles = load_candles(meta, run.req.data_file)
    rows = pd.concat([run.validation, run.test], ignore_index=True)
    anchors = anchor_rows(candles, rows, tp.bars_ahead, tp.timeframe)
    windows = raw_windows(candles, anchors, run.window, tp.timeframe)
    test_windows = windows[len(run.validation):]

    reporter.stage("Rebuilding the members and exporting the composite to ONNX")
    combiner = run.stack.combiner
    composite = build_composite([m.path for m in run.members], [m.metadata for m in run.members],
                                combiner.weights, combiner.intercept, run.window, list(FEATURES))
    with store.staging(folder) as staged:
        onnx_path = staged / "model.onnx"
        opset = export_onnx(composite, torch.from_numpy(test_windows[:2]), onnx_path)
        reporter.stage("Checking ONNX parity, and that model.onnx alone reproduces the predictions")
        max_abs_diff = check_parity(onnx_path, composite, test_windows)
        reproduced = _reproduce(onnx_path, windows, rows)
        reporter.stage("Measuring ONNX Runtime latency")
        latency = measure_latency(onnx_path, test_windows[-1:], _batch_of(test_windows, 256))
        write_json(staged / "scaler.json", _identity_scaler())
        predictions_frame(run.test, run.validation).to_parquet(staged / PREDICTIONS_FILE, index=False)
        metadata = _metadata(run, opset, max_abs_diff, reproduced, latency, count_parameters(composite),
                             torch.__version__)
        write_metadata(staged / "metadata.json", metadata)
        reporter.stage("Publishing the version")
        version_dir = store.publish(folder, staged, run.name)
    metadata.version_id = version_dir.name
    return version_dir, metadata


def _reproduce(onnx_path: Path, windows: np.ndarray, rows: pd.DataFrame) -> float:
    """Max abs difference, in log return, between model.onnx alone and the forecasts in predictions.parquet."""
    from atb.models.runtime import onnx_session

    session = onnx_session(onnx_path, threads=0)
    out = session.run(None, {session.get_inputs()[0].name: windows})[0].reshape(-1).astype(np.float64)
    stored = np.log(rows["predicted_close"].to_numpy(np.float64) / rows["last_close"].to_numpy(np.float64))
    diff = float(np.max(np.abs(out - stored)))
    if not diff <= REPRODUCE_TOLERANCE:  # also NaN
        raise ModelError(f"the ensemble's model.onnx does not reproduce its forecasts: max abs diff {diff:.3g} in log "
                         f"return > {REPRODUCE_TOLERANCE} (members' files changed since they were scored?)")
    return diff


def _identity_scaler() -> dict:
    """scaler.json of an ensemble: `atb predict` hands model.onnx the raw features and reads a log return."""
    n = len(FEATURES)
    return {"kind": "identity", "fitted_on": "none: each member's own scaler is inside model.onnx",
            "feature_names": list(FEATURES), "mean": [0.0] * n, "std": [1.0] * n, "target_std": 1.0}


def _metadata(run: _Run, opset: int, max_abs_diff: float, reproduced: float, latency: dict, parameters: int,
              torch_version: str) -> VersionMetadata:
    ref, stack, members = run.ref.metadata, run.stack, run.members
    tp = ref.training_params
    combiner = stack.combiner
    best = members[stack.best]
    best_dm = run.details[stack.best].dm_ensemble_vs_member
    best_rmse = run.details[stack.best].test_rmse
    evaluation = Evaluation.from_json(run.evaluation)
    member_fit = [m.metadata.performance.training_time_s for m in members]
    return VersionMetadata(
        schema_version=SCHEMA_VERSION, symbol=ref.symbol, model_type="price", version_id=run.name,
        created_at=_iso(run.created), atb_version=__version__,
        training_params=TrainingParams(
            architecture=ARCHITECTURE, architecture_variant=run.req.method, timeframe=tp.timeframe, days=tp.days,
            sequence_length=run.window, horizon=tp.horizon, exchange=tp.exchange, data_source=tp.data_source,
            start=tp.start, end=tp.end, device="cpu", features=list(FEATURES), target=tp.target,
        ),
        model_config=None,
        data=DataInfo.from_json(ref.data.to_json()),
        evaluation_results=evaluation,
        backtest=run.backtest,
        ensemble=EnsembleInfo(
            method=combiner.method, members=[m.name for m in members], weights=[float(w) for w in combiner.weights],
            intercept=float(combiner.intercept), fitted_on="none" if combiner.method == "mean" else "validation",
            fit=combiner.fit or None, best_member=best.name, dm_vs_best_member=best_dm,
            rmse_improvement_vs_best_member_pct=100 * (best_rmse - evaluation.test_rmse) / best_rmse
            if best_rmse else None,
            input=INPUT_SPEC, predictions_max_abs_diff=reproduced, member_details=run.details,
        ),
        performance=Performance(
            # The ensemble's cost to fit: its members' fits and the combiner's.
            training_time_s=sum(t for t in member_fit if t is not None) + run.fit_s,
            **{k: latency[k] for k in ("inference_ms_p50", "inference_ms_p95", "batch_throughput_per_s")},
            parameters=parameters, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            latency_threads=1, latency_runs=latency["latency_runs"],
            throughput_batch=latency["batch_size_for_throughput"],
        ),
        onnx=Onnx(file="model.onnx", opset=opset, max_abs_diff=max_abs_diff, input="window",
                  input_shape=["batch", run.window, len(FEATURES)]),
        artifacts=Artifacts(weights=None, onnx="model.onnx", scaler="scaler.json", predictions=PREDICTIONS_FILE),
        training_history=[],
        environment=Environment(host=socket.gethostname(), python=platform.python_version(), torch=torch_version,
                                platform=platform.platform()),
        extra=run.req.extra or None,
    )


def _batch_of(windows: np.ndarray, size: int) -> np.ndarray:
    reps = int(np.ceil(size / len(windows)))
    return np.ascontiguousarray(np.concatenate([windows] * reps)[:size])


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
