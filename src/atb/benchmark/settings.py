"""What a Phase-1 benchmark run is asked to do: the --quick/--full presets, the model list, seeds and folds.

Every check of the arguments happens here, before any training starts, and ends as one UsageError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from atb.data.loader import check_source
from atb.data.timeparse import parse_time
from atb.errors import UsageError
from atb.features.sets import ABLATION_SETS, ALL, feature_names, groups_of, parse_feature_set
from atb.models import registry as architectures
from atb.training.request import TrainRequest

# The guide's Phase 1A (smoke test) and Phase 1B (full training) settings.
PRESETS: dict[str, dict] = {
    "quick": {"days": 7, "epochs": 5, "seeds": 1},
    "full": {"days": 30, "epochs": 20, "seeds": 3},
}
FIRST_SEED = TrainRequest.seed  # seeds are FIRST_SEED, FIRST_SEED + 1, ...


@dataclass(frozen=True)
class ModelChoice:
    architecture: str
    variant: str = "default"

    @property
    def label(self) -> str:
        return f"{self.architecture} ({self.variant})"  # the label Entry.from_version gives a version

    def __str__(self) -> str:
        return f"{self.architecture}:{self.variant}"


def default_models() -> tuple[ModelChoice, ...]:
    """Every registered architecture, default variant (read when asked: a plugin may register late)."""
    return tuple(ModelChoice(a) for a in architectures.names())


@dataclass
class BenchSettings:
    mode: str  # "quick" or "full"
    days: float
    epochs: int
    seeds: int
    symbol: str = "BTCUSDT"
    timeframe: str = TrainRequest.timeframe
    models: tuple[ModelChoice, ...] = field(default_factory=default_models)
    walk_forward: int = 1
    end: pd.Timestamp | None = None  # --end-date: the newest test target time is the last candle at or before it
    end_date: str | None = None  # --end-date as given
    data_source: str = "exchange"
    data_file: str | None = None
    models_dir: Path | None = None
    output_dir: Path = Path("artifacts")
    device: str = TrainRequest.device
    threads: int | None = TrainRequest.threads  # torch CPU threads per run (None: atb's default rule)
    log_to_db: bool = True
    synthetic_ar_coef: float = TrainRequest.synthetic_ar_coef
    features: str = ALL  # the feature set every run gets (atb.features.sets)
    feature_sets: tuple[str, ...] = ()  # --ablation: the sets compared, poorest first; empty: no ablation
    doctor: bool = False  # --doctor: run `atb doctor --quick` after the runs and include its result
    notes: list[str] = field(default_factory=list)
    ensemble: bool = False  # also one stacking ensemble per seed and fold (benchmark.ensembles)
    workers: int = 1  # --workers: training runs at once in worker processes (benchmark.executors)
    ray_address: str | None = None  # --ray / RAY_ADDRESS: runs as Ray tasks on that cluster
    cpus_per_run: float | None = None  # --cpus-per-run (Ray): CPUs each task asks for (default 1)
    gpus_per_run: float | None = None  # --gpus-per-run (Ray): GPUs each task asks for (default 0)

    @property
    def smoke_test(self) -> bool:
        return self.mode == "quick"

    @property
    def seed_list(self) -> list[int]:
        return [FIRST_SEED + i for i in range(self.seeds)]

    def to_dict(self) -> dict:
        return {
            "mode": self.mode, "smoke_test": self.smoke_test, "symbol": self.symbol, "timeframe": self.timeframe,
            "days": self.days, "epochs": self.epochs, "seeds": self.seed_list, "walk_forward": self.walk_forward,
            "end_date": self.end_date, "models": [str(m) for m in self.models], "data_source": self.data_source,
            "threads": self.threads,
            "data_file": self.data_file,
            "models_dir": None if self.models_dir is None else str(self.models_dir),
            "output_dir": str(self.output_dir), "device": self.device, "log_to_db": self.log_to_db,
            "synthetic_ar_coef": self.synthetic_ar_coef if self.data_source == "synthetic" else None,
            "features": self.features, "ensemble": self.ensemble,
            **({"feature_sets": list(self.feature_sets)} if self.feature_sets else {}),
            "doctor": self.doctor,
            **({"workers": self.workers} if self.workers != 1 else {}),
            **({"ray": {"address": self.ray_address, "cpus_per_run": self.cpus_per_run or 1,
                        "gpus_per_run": self.gpus_per_run or 0}} if self.ray_address else {}),
        }


def parse_models(text: str) -> tuple[ModelChoice, ...]:
    """``cnn_lstm,attention_lstm:deep,tcn:lightweight`` -> model choices (variant defaults to "default")."""
    choices = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        arch, _, variant = item.partition(":")
        arch, variant = arch.strip().lower(), (variant.strip().lower() or "default")
        try:
            architectures.check(arch, variant)
        except UsageError as exc:
            raise UsageError(f"--models {item!r}: {exc}") from None
        choice = ModelChoice(arch, variant)
        if choice in choices:
            raise UsageError(f"--models names {choice} twice")
        choices.append(choice)
    if not choices:
        raise UsageError(f"--models is empty; e.g. --models {models_example()}")
    # The baseline first: compare() takes the first baseline entry as the baseline, so prefer its default.
    baseline = architectures.baseline().name
    return tuple(sorted(choices, key=lambda c: (c.architecture != baseline or c.variant != "default")))


def models_example() -> str:
    """``cnn_lstm,attention_lstm,tcn (variants: lightweight, default, deep, as tcn:lightweight)``"""
    names = architectures.names()
    return (f"{','.join(names)} (variants: {', '.join(architectures.VARIANTS)}, as "
            f"{names[-1]}:{architectures.VARIANTS[0]})")


def make_settings(
    *, quick: bool, full: bool, symbol: str = "BTCUSDT", days: float | None = None, epochs: int | None = None,
    models: str | None = None, seeds: int | None = None, walk_forward: int = 1, end_date: str | None = None,
    data_source: str | None = None, data_file: str | Path | None = None, models_dir: Path | None = None,
    output_dir: Path = Path("artifacts"), device: str = TrainRequest.device, timeframe: str = TrainRequest.timeframe,
    log_to_db: bool = True, synthetic_ar_coef: float = TrainRequest.synthetic_ar_coef, threads: int | None = None,
    features: str = ALL, ablation: bool = False, feature_sets: str | None = None, ensemble: bool = False,
    doctor: bool = False, workers: int = 1, ray: str | None = None, cpus_per_run: float | None = None,
    gpus_per_run: float | None = None,
) -> BenchSettings:
    if quick == full:
        raise UsageError("choose one of --quick (smoke test: 7 days, 5 epochs) or --full (30 days, 20 epochs)")
    mode = "quick" if quick else "full"
    preset = PRESETS[mode]
    days = preset["days"] if days is None else days
    epochs = preset["epochs"] if epochs is None else epochs
    seeds = preset["seeds"] if seeds is None else seeds
    if not days > 0:
        raise UsageError(f"--days must be positive (got {days})")
    if epochs < 1:
        raise UsageError(f"--epochs must be at least 1 (got {epochs})")
    if seeds < 1:
        raise UsageError(f"--seeds must be at least 1 (got {seeds})")
    if walk_forward < 1:
        raise UsageError(f"--walk-forward must be at least 1 (got {walk_forward})")
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be at least 1 (got {threads})")
    ray_address = _check_parallel(workers, ray, cpus_per_run, gpus_per_run)
    end = parse_time(end_date, "--end-date", end=True) if end_date is not None else None
    source = _data_source(data_source, data_file)
    if not symbol.strip():
        raise UsageError("--symbol is empty")
    return BenchSettings(
        mode=mode, days=days, epochs=epochs, seeds=seeds, symbol=symbol.strip().upper(), timeframe=timeframe,
        models=parse_models(models) if models is not None else default_models(), walk_forward=walk_forward,
        end=end, end_date=end_date.strip() if end_date is not None else None,
        data_source=source, data_file=str(data_file) if data_file else None, models_dir=models_dir,
        output_dir=Path(output_dir), device=device, threads=threads, log_to_db=log_to_db,
        synthetic_ar_coef=synthetic_ar_coef, features=parse_feature_set(features), ensemble=ensemble,
        feature_sets=_feature_sets(ablation, feature_sets, features),
        doctor=doctor, workers=workers, ray_address=ray_address, cpus_per_run=cpus_per_run,
        gpus_per_run=gpus_per_run,
    )


def _check_parallel(workers: int, ray: str | None, cpus: float | None, gpus: float | None) -> str | None:
    """--workers / --ray / --cpus-per-run / --gpus-per-run; returns the Ray address (--ray, else RAY_ADDRESS)."""
    from atb.cluster import ray_address  # cheap: ray itself is imported only to connect

    if workers < 1:
        raise UsageError(f"--workers must be at least 1 (got {workers})")
    address = ray_address(ray)
    if address and workers > 1:
        raise UsageError("--workers is for this machine; with --ray (or RAY_ADDRESS) the cluster schedules the runs "
                         "(ask for resources with --cpus-per-run / --gpus-per-run)")
    for name, value in (("--cpus-per-run", cpus), ("--gpus-per-run", gpus)):
        if value is None:
            continue
        if not address:
            raise UsageError(f"{name} is for --ray ADDRESS (on this machine use --workers and --threads)")
        if value < 0 or (name == "--cpus-per-run" and value == 0):
            raise UsageError(f"{name} must be {'positive' if name == '--cpus-per-run' else 'zero or more'} "
                             f"(got {value:g})")
    return address


def _feature_sets(ablation: bool, text: str | None, features: str) -> tuple[str, ...]:
    """The ablation's sets, poorest first; at least one must contain another (a richer set to test)."""
    if not ablation:
        if text is not None:
            raise UsageError("--feature-sets is for --ablation")
        return ()
    if parse_feature_set(features) != ALL:
        raise UsageError("--features is for a plain benchmark; with --ablation give --feature-sets")
    sets = [parse_feature_set(t) for t in text.split(",") if t.strip()] if text is not None else list(ABLATION_SETS)
    if len(set(sets)) != len(sets):
        raise UsageError(f"--feature-sets names a set twice: {','.join(sets)}")
    if not any(set(groups_of(a)) < set(groups_of(b)) for a in sets for b in sets):
        raise UsageError(f"--feature-sets {','.join(sets) or '(empty)'}: the ablation needs a set and a richer one "
                         f"that contains it, e.g. {','.join(ABLATION_SETS)}")
    return tuple(sorted(sets, key=lambda s: len(feature_names(s))))


def _data_source(source: str | None, data_file: str | Path | None) -> str:
    if source is not None:
        check_source(source)
    if data_file:
        if source not in (None, "file"):
            raise UsageError(f"--data-file reads a file; it cannot be combined with --data-source {source}")
        if not Path(data_file).is_file():
            raise UsageError(f"--data-file {data_file}: no such file")
        return "file"
    if source == "file":
        raise UsageError("--data-source file needs --data-file PATH")
    return source or "exchange"
