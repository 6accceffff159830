"""metadata.json as types: VersionMetadata and its sections, read and written here only (torch-free).

A section is a dataclass whose fields are the keys we know, named as in the file (so `meta.training_params.
architecture` is the guide's `jq .training_params.architecture`). What else a file holds, from a later atb
(`tuning`, `serving`) or added by hand, is kept in the section's `other` mapping and written back
after the known keys: reading and writing a document never loses a key.

Reading never invents a value. A key that a file lacks (written by an older atb: no `directional_pt_*`, no
`fit_s_per_1k_windows`, no `collapsed`, no `schema_version`, no `backtest`) reads as None and stays absent when
the document is written again. A section built in code writes every field, except the `optional` ones left unset (keys
that only some versions have, e.g. a walk-forward fold's `test_interval`).

A new field is one line in its section: e.g. `sharpe: float | None = None` in Evaluation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

# 1: the first typed schema; files without the key are older. Raise it when a key changes meaning or moves,
# not for an added key (readers of every version take missing and unknown keys in their stride).
SCHEMA_VERSION = 1

S = TypeVar("S", bound="Section")


def optional(default: Any = None) -> Any:
    """A key written only when set (it applies to some versions only)."""
    return field(default=default, metadata={"optional": True})


def section(kind: type[Section], *, many: bool = False, is_optional: bool = False) -> Any:
    """A nested section (`many`: a list of them); `is_optional`: None, and absent from the file, unless set."""
    if is_optional:
        return field(default=None, metadata={"section": kind, "many": many, "optional": True})
    return field(default_factory=list if many else kind, metadata={"section": kind, "many": many})


@dataclass(frozen=True)
class _Spec:
    name: str
    kind: type[Section] | None  # a nested section, or None for a plain JSON value
    many: bool
    optional: bool


@dataclass
class Section:
    # Unknown keys, exactly as read; written back after the known ones.
    other: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False)
    # The keys the document held (None: built in code); decides which None values are written.
    _read: frozenset[str] | None = field(default=None, kw_only=True, repr=False, compare=False)

    @classmethod
    def from_json(cls: type[S], doc: Mapping[str, Any]) -> S:
        """Lenient: a missing key reads as None (an empty section), a known key holding the wrong shape
        (a section that is not an object) is kept, as it is, among the unknown ones."""
        specs = _specs(cls)
        values: dict[str, Any] = {spec.name: None for spec in specs.values() if spec.kind is None or spec.optional}
        other: dict[str, Any] = {}
        read = set()
        for key, value in doc.items():
            spec = specs.get(key)
            parsed = _parse(spec, value) if spec is not None else _WRONG_SHAPE
            if parsed is _WRONG_SHAPE:
                other[key] = value
            else:
                values[key] = parsed
                read.add(key)
        return cls(**values, other=other, _read=frozenset(read))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in _specs(type(self)).values():
            value = getattr(self, spec.name)
            if self._written(spec, value):
                out[spec.name] = _dump(value)
        for key, value in self.other.items():
            out.setdefault(key, value)
        return out

    def has(self, key: str) -> bool:
        """Whether the document says anything under `key` (a file from an older atb may not)."""
        if self._read is not None and key in self._read:
            return True
        return not _empty(getattr(self, key))

    def _written(self, spec: _Spec, value: Any) -> bool:
        if self._read is not None:  # as read: the keys it had, and what was set since
            return spec.name in self._read or not _empty(value)
        return not (spec.optional and value is None)


_WRONG_SHAPE = object()


@cache
def _specs(cls: type[Section]) -> dict[str, _Spec]:
    return {f.name: _Spec(f.name, f.metadata.get("section"), f.metadata.get("many", False),
                          f.metadata.get("optional", False))
            for f in dataclasses.fields(cls) if f.name not in ("other", "_read")}


def _parse(spec: _Spec, value: Any) -> Any:
    if spec.kind is None or (value is None and spec.optional):
        return value
    if spec.many:
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            return _WRONG_SHAPE
        return [spec.kind.from_json(v) for v in value]
    return spec.kind.from_json(value) if isinstance(value, Mapping) else _WRONG_SHAPE


def _dump(value: Any) -> Any:
    if isinstance(value, Section):
        return value.to_json()
    if isinstance(value, list) and value and isinstance(value[0], Section):
        return [v.to_json() for v in value]
    return value


def _empty(value: Any) -> bool:
    """None, [], or a section that holds no value at all."""
    if isinstance(value, Section):
        return not value.other and all(_empty(getattr(value, name)) for name in _specs(type(value)))
    return value is None or (isinstance(value, list) and not value)


# --- the sections, in the order metadata.json has always listed them ---------------------------------------


@dataclass
class Interval(Section):
    start: str | None = None  # ISO-8601 UTC
    end: str | None = None


@dataclass
class TrainingParams(Section):
    architecture: str | None = None
    architecture_variant: str | None = None
    timeframe: str | None = None
    days: float | None = None  # None: the run gave --start-date
    epochs: int | None = None
    batch_size: int | None = None
    sequence_length: int | None = None
    learning_rate: float | None = None
    patience: int | None = None
    seed: int | None = None
    horizon: int | None = None
    loss: str | None = None
    exchange: str | None = None
    data_source: str | None = None
    start: str | None = None  # the first train target time
    end: str | None = None  # the last test target time
    epochs_run: int | None = None
    best_epoch: int | None = None
    stopped_early: bool | None = None
    device: str | None = None
    threads: int | None = None
    features: list[str] | None = None
    feature_set: str | None = None  # its name (atb.features.sets); None: a version from before sets, i.e. "all"
    target: str | None = None
    test_interval: Interval | None = section(Interval, is_optional=True)  # a walk-forward fold's given interval

    @property
    def bars_ahead(self) -> int:
        return int(self.horizon) if self.horizon is not None else 1  # versions before --horizon: 1 bar

    @property
    def label(self) -> str:
        return f"{self.architecture} ({self.architecture_variant})"


@dataclass
class Split(Section):
    start: str | None = None  # target times, ISO-8601 UTC
    end: str | None = None
    n: int | None = None  # windows


@dataclass
class SyntheticParams(Section):
    seed: int | None = None
    ar_coef: float | None = None


@dataclass
class DataInfo(Section):
    source: str | None = None  # a label of atb.data.sources: "exchange:binance", "file:NAME", "synthetic"...
    synthetic: bool | None = None
    rows: int | None = None
    gaps: int | None = None
    first_candle: str | None = None
    last_candle: str | None = None
    train: Split = section(Split)
    validation: Split = section(Split)
    test: Split = section(Split)
    synthetic_params: SyntheticParams | None = section(SyntheticParams, is_optional=True)


@dataclass
class DMTest(Section):
    """A Diebold-Mariano test (evaluation.stats.DMResult.to_dict); negative statistic: the model's loss is lower."""

    statistic: float | None = None
    p_value: float | None = None
    p_value_one_sided: float | None = None  # H1: lower loss


@dataclass
class Evaluation(Section):
    """evaluation_results: evaluation.metrics.evaluate_forecasts() on the test split, plus the fit's losses.
    Units: RMSE/MAE in quote currency, MAPE and percentages in %."""

    test_rmse: float | None = None
    test_mae: float | None = None
    mape: float | None = None
    directional_accuracy: float | None = None
    directional_accuracy_ci95: list[float] | None = None
    directional_p_value: float | None = None
    directional_pt_statistic: float | None = None
    directional_pt_p_value: float | None = None
    directional_excluded: int | None = None
    naive_test_rmse: float | None = None
    naive_test_mae: float | None = None
    naive_mape: float | None = None
    rmse_skill_vs_naive: float | None = None
    dm_vs_naive: DMTest = section(DMTest)
    test_windows: int | None = None
    predicted_up_pct: float | None = None
    actual_up_pct: float | None = None
    collapsed: bool | None = None
    collapse_reason: str | None = None
    forecast_spread_ratio: float | None = None
    val_loss: float | None = None
    train_loss: float | None = None


@dataclass
class Performance(Section):
    training_time_s: float | None = None  # the fit alone
    fit_s_per_1k_windows: float | None = None
    inference_ms_p50: float | None = None
    inference_ms_p95: float | None = None
    batch_throughput_per_s: float | None = None
    parameters: int | None = None
    peak_rss_mb: float | None = None
    peak_gpu_mb: float | None = None  # null on CPU
    latency_threads: int | None = None
    latency_runs: int | None = None  # single-window timings behind the p50 (until it is stable)
    throughput_batch: int | None = None


@dataclass
class Onnx(Section):
    file: str | None = None
    opset: int | None = None
    max_abs_diff: float | None = None  # parity with PyTorch on the test windows
    input: str | None = None
    input_shape: list | None = None  # ["batch", sequence_length, features]


@dataclass
class Artifacts(Section):
    weights: str | None = None
    onnx: str | None = None
    scaler: str | None = None
    predictions: str | None = None


@dataclass
class EpochRecord(Section):
    epoch: int | None = None
    train_loss: float | None = None
    val_loss: float | None = None
    lr: float | None = None
    seconds: float | None = None
    best: bool | None = None
    val_mse: float | None = None  # the validation MSE whatever the loss (a search compares it across trials)


@dataclass
class Environment(Section):
    host: str | None = None
    python: str | None = None
    torch: str | None = None
    platform: str | None = None


@dataclass
class EnsembleMember(Section):
    """One member of an ensemble (atb.ensemble), in the order of the weights."""

    version_id: str | None = None
    architecture: str | None = None
    architecture_variant: str | None = None
    sequence_length: int | None = None
    weight: float | None = None
    validation_mse: float | None = None  # squared error of its price forecasts on the validation rows
    test_rmse: float | None = None
    # The ensemble vs this member on the test rows (negative statistic: the ensemble's loss is lower; the one-sided
    # p-value's H1: the ensemble's loss is lower).
    dm_ensemble_vs_member: DMTest = section(DMTest)


@dataclass
class EnsembleInfo(Section):
    """metadata.json's ``ensemble``: what the version combines and how the combiner was fitted."""

    method: str | None = None  # nnls | ridge | mean (also training_params.architecture_variant)
    members: list[str] | None = None  # the members' version ids, in the order of `weights`
    weights: list[float] | None = None  # on the members' predicted log returns
    intercept: float | None = None  # log return
    fitted_on: str | None = None  # "validation" ("none" for mean: nothing is fitted)
    fit: dict[str, Any] | None = optional()  # ridge: the penalty grid, the CV scores and the chosen penalty
    best_member: str | None = None  # the member with the lowest validation MSE (decided on validation)
    dm_vs_best_member: DMTest = section(DMTest)  # on test; H1 of the one-sided p: the ensemble's loss is lower
    rmse_improvement_vs_best_member_pct: float | None = None  # on test; positive: the ensemble's RMSE is lower
    input: str | None = None  # what model.onnx takes (composite.py's input spec)
    predictions_max_abs_diff: float | None = None  # model.onnx alone vs predictions.parquet, log return, every row
    member_details: list[EnsembleMember] = section(EnsembleMember, many=True)


@dataclass
class VersionMetadata(Section):
    """One model version's metadata.json (DESIGN.md)."""

    schema_version: int | None = None  # SCHEMA_VERSION for new versions; None: written before the key existed
    symbol: str | None = None  # the market's symbol (BTCUSDT, also for a synthetic run's BTCUSDT-SYNTHETIC folder)
    model_type: str | None = None
    version_id: str | None = None  # the folder name, see registry.version_id
    created_at: str | None = None  # ISO-8601 UTC
    atb_version: str | None = None
    training_params: TrainingParams = section(TrainingParams)
    model_config: dict[str, Any] | None = None  # the architecture's constructor arguments
    data: DataInfo = section(DataInfo)
    evaluation_results: Evaluation = section(Evaluation)
    # atb.backtest's result (BacktestResult.to_dict: its keys are declared there), or {"skipped": why};
    # None: a version from before the backtest.
    backtest: dict[str, Any] | None = optional()
    ensemble: EnsembleInfo | None = section(EnsembleInfo, is_optional=True)  # an ensemble version only
    performance: Performance = section(Performance)
    onnx: Onnx = section(Onnx)
    artifacts: Artifacts = section(Artifacts)
    training_history: list[EpochRecord] = section(EpochRecord, many=True)
    environment: Environment = section(Environment)
    extra: dict[str, Any] | None = optional()  # what the caller recorded (e.g. the benchmark's fold)

    REQUIRED = ("training_params", "evaluation_results", "performance")  # a file without them is damaged

    @property
    def synthetic(self) -> bool | None:
        """Fitted on the synthetic market? None: the metadata does not say."""
        if not self.has("data"):
            return None
        data = self.data
        return bool(data.synthetic) if data.has("synthetic") else data.source == "synthetic"

    def damaged_section(self) -> str | None:
        """The first required section that is missing or not an object, if any."""
        return next((key for key in self.REQUIRED if not self.has(key) or key in self.other), None)

    def metric(self, key: str) -> Any:
        """A headline value by its metric key (evaluation.metric_table), from evaluation_results or performance."""
        for part in (self.evaluation_results, self.performance):
            if key in _specs(type(part)):
                return getattr(part, key)
            if key in part.other:
                return part.other[key]
        return None

    def backtest_figures(self) -> dict[str, Any] | None:
        """The backtest section when it holds a result (not absent, not {"skipped": why})."""
        bt = self.backtest
        return bt if isinstance(bt, Mapping) and "strategy" in bt else None

    def search_trials(self) -> tuple[int, float] | None:
        """(tuning.n_trials, tuning.trial_sharpe_var): how many configurations a search tried and the variance of
        their Sharpe ratios, when the version came out of one that recorded both (for the Deflated Sharpe)."""
        tuning = self.other.get("tuning")
        if not isinstance(tuning, Mapping):
            return None
        n, var = tuning.get("n_trials"), tuning.get("trial_sharpe_var")
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (n, var))
        return (int(n), float(var)) if numbers else None

    def fit_seconds_per_1k_windows(self) -> float | None:
        """Fit time per 1,000 training windows processed (early stopping's epoch count does not distort it);
        computed for versions written before the key existed."""
        perf = self.performance
        if perf.fit_s_per_1k_windows is not None:
            return perf.fit_s_per_1k_windows
        try:
            processed = int(self.data.train.n) * int(self.training_params.epochs_run)
            return 1000 * float(perf.training_time_s) / processed if processed else None
        except (TypeError, ValueError):
            return None
