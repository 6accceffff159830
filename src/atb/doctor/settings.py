"""What a doctor run is asked to do: the --quick/full presets, the architectures, where the user's candles and
model versions are. Every argument is checked here, before anything trains, and ends as one UsageError."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from atb.errors import UsageError
from atb.models import registry as architectures
from atb.training.request import TrainRequest


@dataclass(frozen=True)
class Preset:
    name: str
    target_bars: int  # target times of each synthetic market (train + validation + test, 70/15/15)
    epochs: int
    seeds: int  # model seeds per architecture, on the same market (their squared errors are pooled)
    variant: str  # the variant of an architecture named without one

    def describe(self) -> str:
        seeds = "1 seed" if self.seeds == 1 else f"{self.seeds} seeds"
        return (f"{seeds}, markets of {self.target_bars:,} target bars, {self.epochs} epochs, {self.variant} "
                "variants")


# quick: 2,160 targets (324 test windows): with 1,440 the lightweight CNN-LSTM fell short of 70% of the attainable
# skill on 1 market in 12 (benchmarks/doctor_reliability.py; more epochs did not help, more data did).
PRESETS = {
    "quick": Preset("quick", target_bars=2160, epochs=10, seeds=1, variant="lightweight"),
    "full": Preset("full", target_bars=2880, epochs=20, seeds=3, variant="default"),
}


@dataclass(frozen=True)
class DoctorSettings:
    preset: Preset
    models: tuple[tuple[str, str], ...]  # (architecture, variant), the baseline first
    symbol: str | None = None  # the user's market: its candles are checked, its latest version audited
    timeframe: str = TrainRequest.timeframe
    data_source: str | None = None  # "file", "exchange" (the cache), "synthetic"; None: no candles of the user's
    data_file: str | None = None
    exchange: str = TrainRequest.exchange
    version: str | None = None  # None: the symbol's latest, when there is one
    models_dir: Path | None = None  # the user's registry (read only)
    device: str = TrainRequest.device
    threads: int | None = None  # None: ATB_THREADS, else 1 (see torch_threads)

    @property
    def torch_threads(self) -> int | None:
        """--threads, else ATB_THREADS (None: read there), else one thread. The doctor's models are small and the
        machine may be shared: on 2 busy cores the quick doctor took 71 s with one thread and 381 s with two
        (benchmarks/doctor_time.py); training's default is one thread too (atb.training.device)."""
        return self.threads or (None if os.environ.get("ATB_THREADS") else 1)

    def labels(self) -> list[str]:
        return [label(arch, variant) for arch, variant in self.models]

    def to_dict(self) -> dict:
        return {"mode": self.preset.name, "target_bars": self.preset.target_bars, "epochs": self.preset.epochs,
                "seeds": self.preset.seeds, "models": [f"{a}:{v}" for a, v in self.models], "symbol": self.symbol,
                "timeframe": self.timeframe, "data_source": self.data_source, "data_file": self.data_file,
                "exchange": self.exchange, "version": self.version,
                "models_dir": None if self.models_dir is None else str(self.models_dir), "device": self.device,
                "threads": self.torch_threads}


def label(architecture: str, variant: str) -> str:
    return f"{architecture} ({variant})"  # as the benchmark and `atb models compare` write it


def make_doctor_settings(
    *, quick: bool, symbol: str | None = None, models: str | None = None, timeframe: str = TrainRequest.timeframe,
    data_source: str | None = None, data_file: str | Path | None = None, exchange: str = TrainRequest.exchange,
    version: str | None = None, models_dir: Path | None = None, device: str = TrainRequest.device,
    threads: int | None = None,
) -> DoctorSettings:
    from atb.data.loader import check_source  # pandas: deferred for `atb --help`
    from atb.data.symbols import normalize_symbol
    from atb.data.timeframes import timeframe_seconds

    preset = PRESETS["quick" if quick else "full"]
    timeframe_seconds(timeframe)
    if data_source is not None:
        check_source(data_source)
    if data_file:
        if data_source not in (None, "file"):
            raise UsageError(f"--data-file reads a file; it cannot be combined with --data-source {data_source}")
        if not Path(data_file).is_file():
            raise UsageError(f"--data-file {data_file}: no such file")
        data_source = "file"
    elif data_source == "file":
        raise UsageError("--data-source file needs --data-file PATH")
    elif data_source is None and symbol:
        data_source = "exchange"  # the cached candles of the symbol (the doctor downloads nothing)
    if version and not symbol:
        raise UsageError("--version needs the SYMBOL whose version it is")
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be at least 1 (got {threads})")
    return DoctorSettings(
        preset=preset, models=parse_models(models, preset.variant), symbol=normalize_symbol(symbol) if symbol else None,
        timeframe=timeframe, data_source=data_source, data_file=str(data_file) if data_file else None,
        exchange=exchange, version=version, models_dir=models_dir, device=device, threads=threads,
    )


def parse_models(text: str | None, variant: str) -> tuple[tuple[str, str], ...]:
    """``cnn_lstm,tcn:deep`` -> ((cnn_lstm, variant), (tcn, deep)); None: every registered architecture."""
    if text is None:
        chosen = [(name, variant) for name in architectures.names()]
    else:
        chosen = []
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            arch, _, given = item.partition(":")
            pair = (arch.strip().lower(), given.strip().lower() or variant)
            try:
                architectures.check(*pair)
            except UsageError as exc:
                raise UsageError(f"--models {item!r}: {exc}") from None
            if pair in chosen:
                raise UsageError(f"--models names {pair[0]}:{pair[1]} twice")
            chosen.append(pair)
        if not chosen:
            raise UsageError(f"--models is empty; e.g. --models {','.join(architectures.names())}")
    baseline = architectures.baseline().name
    return tuple(sorted(chosen, key=lambda pair: pair[0] != baseline))  # the baseline first (the canary's model)
