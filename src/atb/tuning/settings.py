"""What a study searches over, apart from the drawn configuration: the market, the span, the training budget.
Plain data (it travels to worker processes and Ray workers) and recorded in the study, so that a resumed study
keeps one objective: trials scored on another span or budget are not comparable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from atb.errors import UsageError
from atb.training.request import TrainRequest

# The fields that define the objective: a resumed study must have the same values.
OBJECTIVE_FIELDS = ("symbol", "architecture", "days", "end", "timeframe", "epochs", "patience", "horizon",
                    "data_source", "data_file", "exchange", "features", "synthetic_ar_coef", "synthetic_seed")


@dataclass
class TuneSettings:
    symbol: str
    architecture: str
    days: float = 30
    end: str | None = None  # ISO time (UTC) of the newest target time; None: the source's last candle
    timeframe: str = TrainRequest.timeframe
    epochs: int = TrainRequest.epochs
    patience: int = TrainRequest.patience
    horizon: int = TrainRequest.horizon
    seed: int = TrainRequest.seed  # the model's initialisation in every trial, and the TPE sampler's seed
    data_source: str = "exchange"
    data_file: str | None = None
    exchange: str = TrainRequest.exchange
    features: str = TrainRequest.features
    synthetic_ar_coef: float = TrainRequest.synthetic_ar_coef
    synthetic_seed: int = TrainRequest.synthetic_seed
    device: str = "cpu"
    threads: int | None = None  # torch threads per trial (set per worker)
    train_windows: int | None = None  # the training set's size (batch sizes above it are capped)

    def request(self, config=None, *, models_dir: Path | None = None, log_to_db: bool = False,
                seed: int | None = None) -> TrainRequest:
        """The TrainRequest of a configuration (a space.TrialConfig), or of the default one (None)."""
        import pandas as pd  # deferred: pandas is not needed by `atb --help`

        req = TrainRequest(
            symbol=self.symbol, architecture=self.architecture, days=self.days,
            end=None if self.end is None else pd.Timestamp(self.end), timeframe=self.timeframe, epochs=self.epochs,
            patience=self.patience, horizon=self.horizon, seed=self.seed if seed is None else seed,
            device=self.device, data_source=self.data_source, data_file=self.data_file, exchange=self.exchange,
            features=self.features, synthetic_ar_coef=self.synthetic_ar_coef, synthetic_seed=self.synthetic_seed,
            threads=self.threads, models_dir=models_dir, log_to_db=log_to_db,
        )
        if config is not None:
            batch = config.batch_size if self.train_windows is None else min(config.batch_size, self.train_windows)
            req = replace(req, model_config=dict(config.model_config), learning_rate=config.learning_rate,
                          batch_size=batch, sequence_length=config.sequence_length, loss=config.loss)
        return req

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict) -> TuneSettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})

    def objective(self) -> dict:
        return {k: getattr(self, k) for k in OBJECTIVE_FIELDS}


def check_same_objective(recorded: dict | None, settings: TuneSettings, study: str) -> None:
    """UsageError when a resumed study would change its objective (another span, budget or market)."""
    if not recorded:
        return
    now = settings.objective()
    changed = [f"{k} {recorded.get(k)!r} -> {now[k]!r}" for k in OBJECTIVE_FIELDS if recorded.get(k) != now[k]]
    if changed:
        raise UsageError(f"study {study} was run with other settings ({'; '.join(changed)}): its trials would not be "
                         "comparable; use a new --study name, or the same options")
