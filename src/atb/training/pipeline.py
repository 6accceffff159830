"""One training run, end to end: candles -> features -> windows -> fit -> test (and validation) predictions ->
metrics and backtest -> ONNX export and parity -> a published model version. Used by `atb train model` and the
benchmark."""

from __future__ import annotations

import platform
import resource
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from atb import __version__
from atb.config import models_dir as default_models_dir
from atb.data.candles import find_gaps
from atb.data.loader import load_market
from atb.data.sources import SYNTHETIC
from atb.data.timeframes import bars_per_day, timeframe_delta
from atb.errors import AtbError, ModelError, UsageError
from atb.features.dataset import build_dataset, history_bars_needed
from atb.features.sets import feature_names
from atb.registry.metadata import (
    SCHEMA_VERSION,
    Artifacts,
    DataInfo,
    Environment,
    EpochRecord,
    Evaluation,
    Interval,
    Onnx,
    Performance,
    Split,
    SyntheticParams,
    TrainingParams,
    VersionMetadata,
)
from atb.registry.predictions import FILE as PREDICTIONS_FILE
from atb.registry.predictions import predictions_frame
from atb.registry.store import ModelStore, registry_symbol, write_json, write_metadata
from atb.registry.version_id import version_name
from atb.training.request import TrainRequest


class Reporter(Protocol):
    def stage(self, message: str) -> None: ...
    def download(self, done: int, total: int) -> None: ...  # candles fetched from the exchange, of total
    def fit_started(self, epochs: int, device: str, batch_size: int, windows: dict[str, int]) -> None: ...
    def epoch(self, stats) -> None: ...
    def fit_finished(self) -> None: ...


class SilentReporter:
    def stage(self, message: str) -> None:
        pass

    def download(self, done: int, total: int) -> None:
        pass

    def fit_started(self, epochs: int, device: str, batch_size: int, windows: dict[str, int]) -> None:
        pass

    def epoch(self, stats) -> None:
        pass

    def fit_finished(self) -> None:
        pass


@dataclass
class TrainOutcome:
    version_dir: Path
    metadata: VersionMetadata


@dataclass
class Fitted:
    """What a fit hands on: the model with its best validation epoch's weights, its data and facts; nothing scored."""

    name: str
    model: Any
    data: Any  # DeviceData
    dataset: Any  # Dataset
    candles: pd.DataFrame
    source_label: str
    config: dict
    result: Any  # FitResult
    device: Any  # torch.device
    batch_size: int


@dataclass
class FittedRun(Fitted):
    """A fit scored on test (and validation): everything the saving step writes."""

    req: TrainRequest
    created: datetime
    predictions: pd.DataFrame  # the test split: target_time, last_close, actual_close, predicted_close
    evaluation: dict  # evaluate_forecasts() plus the fit's losses
    validation: pd.DataFrame  # the validation split's predictions, same columns
    backtest: dict  # atb.backtest.training_backtest: metadata.json's backtest section
    sections: dict = field(default_factory=dict)  # more top-level metadata sections (atb tune's `tuning`)

    @property
    def synthetic(self) -> bool:
        return self.source_label == SYNTHETIC

    @property
    def registry_folder(self) -> str:
        """Where the version goes: a synthetic market's model must never become the real symbol's `latest`."""
        return registry_symbol(self.req.symbol, self.synthetic)


@dataclass
class ValidationFit:
    """A fit scored on the validation split only (a search's trial): the test rows are never predicted."""

    config: dict  # the model config (constructor arguments and derived facts)
    result: Any  # FitResult: history (val_loss, val_mse per epoch), best epoch
    validation: pd.DataFrame  # the validation split's forecasts: target_time, last_close, actual_close, predicted_close
    batch_size: int

    @property
    def best_val_mse(self) -> float:
        return self.result.history[self.result.best_epoch - 1].val_mse


def fit_on_validation(req: TrainRequest, reporter: Reporter | None = None) -> ValidationFit:
    """Fit one configuration and predict the validation split; no test prediction, no artifact, no run log."""
    req.validate()
    f = _fit(req, reporter or SilentReporter(), _NoRunLog(), datetime.now(timezone.utc))
    return ValidationFit(f.config, f.result, _predictions(f.model, f.data, f.dataset, req.horizon, "validation"),
                         f.batch_size)


class _NoRunLog:
    def start(self, run) -> None:
        pass

    def epoch(self, *args) -> None:
        pass


def train_model(req: TrainRequest, reporter: Reporter | None = None,
                sections: Callable[[FittedRun], dict] | None = None) -> TrainOutcome:
    """Train, evaluate, export and publish one model version; raise AtbError on bad input. ``sections``: called
    with the scored run before anything is written; the top-level metadata sections it returns are written with
    the rest (it may also replace ``run.backtest``)."""
    req.validate()
    reporter = reporter or SilentReporter()
    from atb.tracking import open_run_log  # deferred: SQLAlchemy loads only when a run starts

    run_log = open_run_log(enabled=req.log_to_db)
    created = datetime.now(timezone.utc)
    try:
        return _train(req, reporter, run_log, created, sections)
    except KeyboardInterrupt as exc:
        run_log.fail(str(exc) or "interrupted", status="interrupted")
        raise
    except BaseException as exc:
        run_log.fail(f"{type(exc).__name__}: {exc}")
        raise


def _train(req: TrainRequest, reporter: Reporter, run_log, created: datetime, sections=None) -> TrainOutcome:
    from atb.backtest import training_backtest
    from atb.evaluation.metrics import evaluate_forecasts

    f = _fit(req, reporter, run_log, created)
    model, data, dataset, result = f.model, f.data, f.dataset, f.result
    reporter.stage("Evaluating on the untouched test split")
    predictions = _predictions(model, data, dataset, req.horizon, "test")
    evaluation = evaluate_forecasts(*(predictions[c].to_numpy() for c in ("last_close", "actual_close",
                                                                          "predicted_close")), req.horizon)
    evaluation["val_loss"] = result.best_val_loss
    evaluation["train_loss"] = result.history[result.best_epoch - 1].train_loss
    # The validation forecasts are stored too: the backtest's threshold is chosen on them, never on test.
    validation = _predictions(model, data, dataset, req.horizon, "validation")
    backtest = training_backtest(predictions, validation, horizon=req.horizon, timeframe=req.timeframe)

    run = FittedRun(**{k.name: getattr(f, k.name) for k in fields(Fitted)}, req=req, created=created,
                    predictions=predictions, evaluation=evaluation, validation=validation, backtest=backtest)
    if sections is not None:  # the caller's top-level metadata sections (atb tune: `tuning`), in the same write
        run.sections = sections(run)
    store = ModelStore(req.models_dir or default_models_dir())
    try:
        version_dir, metadata = _save_version(store, run, reporter)
    except OSError as exc:  # read-only or full disk: the staging folder is already gone
        raise ModelError(f"cannot write the model version under {store.price_dir(run.registry_folder)}: "
                         f"{exc.strerror or exc}") from None
    run_log.complete(metadata)
    return TrainOutcome(version_dir, metadata)


def _fit(req: TrainRequest, reporter: Reporter, run_log, created: datetime) -> Fitted:
    """Load, build the windows and fit (the best validation epoch's weights restored); nothing is scored."""
    # Deferred here and below: torch (~1.7 s), scipy and onnx, which the benchmark's planning and
    # TrainRequest's users need not load.
    import torch

    from atb.models.factory import build_model, model_config
    from atb.training.device import busy_cores_warning, configure_threads, default_batch_size, resolve_device
    from atb.training.trainer import DeviceData, TrainConfig, fit, seed_everything

    device = resolve_device(req.device)
    threads = configure_threads(req.threads)
    batch_size = req.batch_size or default_batch_size(device)
    candles, dataset = prepare_data(req, reporter)
    source_label = candles.attrs.get("source", req.data_source)
    n_train = len(dataset.anchors["train"])
    if req.batch_size is None:
        batch_size = min(batch_size, n_train)  # the device's default never exceeds a small training set
    if batch_size > n_train:
        raise UsageError(
            f"--batch-size {batch_size} is larger than the training set ({n_train} windows); "
            f"use --batch-size {n_train} or less, or more --days"
        )

    config = model_config(req.architecture, req.variant, len(dataset.feature_names), req.sequence_length,
                          req.model_config)
    seed_everything(req.seed)
    model = build_model(req.architecture, config)
    # A tuned configuration is named so in the registry: <time>_<architecture>_tuned
    name = version_name(created, req.architecture, "tuned" if req.model_config else req.variant)
    run_log.start({
        "version_id": name, "symbol": req.symbol, "timeframe": req.timeframe,
        "architecture": req.architecture, "variant": req.variant, "params": _params(req, batch_size),
        "data_source": source_label, "data_start": dataset.split_info("train")["start"],
        "data_end": dataset.split_info("test")["end"],
    })

    data = DeviceData(dataset, device)
    cfg = TrainConfig(epochs=req.epochs, batch_size=batch_size, learning_rate=req.learning_rate,
                      patience=req.patience, seed=req.seed, loss=req.loss)
    if device.type == "cpu" and (hint := busy_cores_warning(threads)):
        reporter.stage(f"warning: {hint}")
    reporter.fit_started(req.epochs, str(device), batch_size, {k: len(v) for k, v in dataset.anchors.items()})

    def on_epoch(stats) -> None:
        reporter.epoch(stats)
        run_log.epoch(stats.epoch, stats.train_loss, stats.val_loss, stats.lr, stats.seconds)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    try:
        result = fit(model, data, cfg, on_epoch)
    except torch.cuda.OutOfMemoryError:
        raise AtbError(
            f"CUDA out of memory while training {req.architecture} ({req.variant}); try --model-variant "
            f"lightweight, a smaller --batch-size (now {batch_size}) or --sequence-length (now {req.sequence_length})"
        ) from None
    finally:
        reporter.fit_finished()  # leave the terminal clean whatever happened
    return Fitted(name, model, data, dataset, candles, source_label, config, result, device, batch_size)


def prepare_data(req: TrainRequest, reporter: Reporter | None = None) -> tuple[pd.DataFrame, Any]:
    """The candles a run loads and the Dataset it builds from them (windows, split, scaler); no fitting."""
    reporter = reporter or SilentReporter()
    step = timeframe_delta(req.timeframe)
    target_bars = None if req.start is not None else max(1, int(round(req.days * bars_per_day(req.timeframe))))
    reporter.stage(f"Loading {req.symbol} {req.timeframe} candles ({req.data_source})")
    candles = load_market(
        req.data_source, req.symbol, req.timeframe, start=req.start, end=req.end,
        history_bars=history_bars_needed(req.sequence_length), target_bars=target_bars or 0,
        data_file=req.data_file, exchange=req.exchange, seed=req.synthetic_seed, progress=reporter.download,
        ar_coef=req.synthetic_ar_coef,
    )
    first_target = req.start if req.start is not None else candles["open_time"].iloc[-1] - (target_bars - 1) * step

    reporter.stage("Building features and windows")
    dataset = build_dataset(candles, req.timeframe, sequence_length=req.sequence_length,
                            first_target_time=first_target, horizon=req.horizon, test_start=req.test_start,
                            features=feature_names(req.features))
    return candles, dataset


def _save_version(store, run: FittedRun, reporter: Reporter) -> tuple[Path, VersionMetadata]:
    """Write every artifact into a staging folder, check ONNX parity, then publish atomically."""
    # torch, onnx and onnxruntime: deferred for start-up time
    import torch
    from safetensors.torch import save as safetensors_bytes

    from atb.evaluation.latency import measure_latency
    from atb.models.export import check_parity, export_onnx

    with store.staging(run.registry_folder) as staged:
        reporter.stage("Saving weights and exporting to ONNX")
        model = run.model.cpu().eval()
        # Serialise in memory and write with Python, so a full or read-only disk is a plain OSError.
        weights = safetensors_bytes({k: v.contiguous() for k, v in model.state_dict().items()})
        (staged / "model.safetensors").write_bytes(weights)
        write_json(staged / "scaler.json", run.dataset.scaler.to_dict())
        test_windows = run.data.batch(run.data.anchors["test"])[0].cpu().numpy()
        opset = export_onnx(model, torch.from_numpy(test_windows[:2]), staged / "model.onnx")
        reporter.stage("Checking ONNX parity")
        max_abs_diff = check_parity(staged / "model.onnx", model, test_windows)
        reporter.stage("Measuring ONNX Runtime latency")
        latency = measure_latency(staged / "model.onnx", test_windows[-1:], _batch_of(test_windows, 256))
        reporter.stage("Publishing the version")
        predictions_frame(run.predictions, run.validation).to_parquet(staged / PREDICTIONS_FILE, index=False)
        metadata = _metadata(run, opset, max_abs_diff, latency)
        metadata.other.update(run.sections)
        write_metadata(staged / "metadata.json", metadata)
        version_dir = store.publish(run.registry_folder, staged, run.name)

    metadata.version_id = version_dir.name
    return version_dir, metadata


def _metadata(run: FittedRun, opset: int, max_abs_diff: float, latency: dict) -> VersionMetadata:
    """metadata.json, in DESIGN.md's schema (the guide's jq queries read it) plus what we know besides."""
    # torch: deferred for start-up time
    import torch

    from atb.models.factory import count_parameters, reported_facts

    req, dataset, candles, result, device = run.req, run.dataset, run.candles, run.result, run.device
    return VersionMetadata(
        schema_version=SCHEMA_VERSION, symbol=req.symbol, model_type="price", version_id=run.name,
        created_at=_iso(run.created), atb_version=__version__,
        training_params=TrainingParams(
            architecture=req.architecture, architecture_variant=req.variant, **_params(req, run.batch_size),
            start=dataset.split_info("train")["start"], end=dataset.split_info("test")["end"],
            epochs_run=result.epochs_run, best_epoch=result.best_epoch, stopped_early=result.stopped_early,
            device=str(device), threads=torch.get_num_threads(), features=dataset.feature_names,
            target=f"log_return_{req.horizon}", other=reported_facts(req.architecture, run.config),
            # the test interval was given (a walk-forward fold), not 15% by count
            test_interval=None if req.test_start is None else Interval(
                start=_iso(req.test_start), end=None if req.end is None else _iso(req.end)),
        ),
        model_config=run.config,
        data=DataInfo(
            source=run.source_label, synthetic=run.synthetic, rows=len(candles),
            gaps=_gap_count(candles, req.timeframe), first_candle=_iso(candles["open_time"].iloc[0]),
            last_candle=_iso(candles["open_time"].iloc[-1]),
            **{k: Split.from_json(dataset.split_info(k)) for k in ("train", "validation", "test")},
            synthetic_params=SyntheticParams(seed=req.synthetic_seed, ar_coef=req.synthetic_ar_coef)
            if run.synthetic else None,
        ),
        evaluation_results=Evaluation.from_json(run.evaluation),
        backtest=run.backtest,
        performance=Performance(
            training_time_s=result.training_time_s,
            # The speed criterion: comparable across runs that early stopping ended after different epochs.
            fit_s_per_1k_windows=1000 * result.training_time_s / (len(dataset.anchors["train"]) * result.epochs_run),
            **{k: latency[k] for k in ("inference_ms_p50", "inference_ms_p95", "batch_throughput_per_s")},
            parameters=count_parameters(run.model),
            peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            peak_gpu_mb=torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
            latency_threads=1, latency_runs=latency["latency_runs"],
            throughput_batch=latency["batch_size_for_throughput"],
        ),
        onnx=Onnx(file="model.onnx", opset=opset, max_abs_diff=max_abs_diff, input="window",
                  input_shape=["batch", req.sequence_length, len(dataset.feature_names)]),
        artifacts=Artifacts(weights="model.safetensors", onnx="model.onnx", scaler="scaler.json",
                            predictions=PREDICTIONS_FILE),
        training_history=[EpochRecord.from_json(asdict(h)) for h in result.history],
        environment=Environment(host=socket.gethostname(), python=platform.python_version(),
                                torch=torch.__version__, platform=platform.platform()),
        extra=req.extra or None,
    )


def _predictions(model, data, dataset, horizon: int, split: str) -> pd.DataFrame:
    """One split's forecasts on the price scale: a forecast is last_close * exp(predicted log return)."""
    from atb.training.trainer import predict  # torch: deferred for start-up time

    anchors = dataset.anchors[split]
    last_close = dataset.close[anchors]
    predicted = last_close * np.exp(predict(model, data, split).astype(np.float64) * dataset.scaler.target_std)
    return pd.DataFrame({"target_time": dataset.target_times(split), "last_close": last_close,
                         "actual_close": dataset.close[anchors + horizon], "predicted_close": predicted})


def _iso(moment: datetime | pd.Timestamp) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _params(req: TrainRequest, batch_size: int) -> dict:
    return {
        "timeframe": req.timeframe, "days": req.days, "epochs": req.epochs, "batch_size": batch_size,
        "sequence_length": req.sequence_length, "learning_rate": req.learning_rate, "patience": req.patience,
        "seed": req.seed, "horizon": req.horizon, "loss": req.loss, "exchange": req.exchange,
        "data_source": req.data_source, "feature_set": req.features,
    }


def _batch_of(windows: np.ndarray, size: int) -> np.ndarray:
    reps = int(np.ceil(size / len(windows)))
    return np.ascontiguousarray(np.concatenate([windows] * reps)[:size])


def _gap_count(candles: pd.DataFrame, timeframe: str) -> int:
    return find_gaps(candles, timeframe).count
