"""The search space: each architecture's own fields (its module's ``search_space``, see atb.models.spec) plus the
training parameters every architecture shares, declared once here."""

from __future__ import annotations

from dataclasses import dataclass

from atb.errors import UsageError
from atb.models import registry as architectures

# The shared training parameters. Fixed choices: Optuna refuses a categorical whose choices change within a study.
LEARNING_RATE = (1e-4, 1e-2)  # log-uniform
BATCH_SIZES = (16, 32, 64, 128)  # capped at the training set's size when it is smaller
SEQUENCE_LENGTHS = (24, 48, 60, 96)
LOSSES = ("mse", "huber")


@dataclass(frozen=True)
class TrialConfig:
    """What one trial trains: architecture config fields over the default variant, and the training parameters."""

    model_config: dict
    learning_rate: float
    batch_size: int
    sequence_length: int
    loss: str


def suggest(trial, architecture: str) -> TrialConfig:
    """Draw one configuration from `trial` (an optuna Trial, or a FixedTrial to rebuild a finished one)."""
    space = architecture_space(architecture)
    return TrialConfig(
        model_config=space(trial),
        learning_rate=trial.suggest_float("learning_rate", *LEARNING_RATE, log=True),
        batch_size=trial.suggest_categorical("batch_size", list(BATCH_SIZES)),
        sequence_length=trial.suggest_categorical("sequence_length", list(SEQUENCE_LENGTHS)),
        loss=trial.suggest_categorical("loss", list(LOSSES)),
    )


def from_params(params: dict, architecture: str) -> TrialConfig:
    """The configuration a finished trial's params describe (its drawn values, replayed)."""
    import optuna  # deferred: optuna takes ~0.5 s to import

    try:
        return suggest(optuna.trial.FixedTrial(params), architecture)
    except ValueError as exc:
        raise UsageError(f"the trial's params do not fit the {architecture} search space: {exc}") from None


def architecture_space(architecture: str):
    spec = architectures.load(architecture)
    if spec.search_space is None:
        raise UsageError(f"{architecture} declares no search space (SPEC.search_space): it cannot be tuned")
    return spec.search_space
