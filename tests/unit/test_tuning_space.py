"""The search space: every architecture declares one, each draw builds a valid config, and a finished trial's
params rebuild the same configuration."""

from __future__ import annotations

import optuna
import pytest

from atb.errors import UsageError
from atb.models import registry as architectures
from atb.models.factory import build_model, model_config
from atb.tuning import space


@pytest.mark.parametrize("architecture", architectures.names())
def test_each_architecture_draws_buildable_configs(architecture):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(6):
        trial = study.ask()
        cfg = space.suggest(trial, architecture)
        assert 1e-4 <= cfg.learning_rate <= 1e-2 and cfg.loss in space.LOSSES
        assert cfg.batch_size in space.BATCH_SIZES and cfg.sequence_length in space.SEQUENCE_LENGTHS
        config = model_config(architecture, "default", 5, cfg.sequence_length, cfg.model_config)
        build_model(architecture, config)  # the drawn fields make a model
        study.tell(trial, 1.0)
        again = space.from_params(trial.params, architecture)
        assert again == cfg  # the params replay to the same configuration


def test_architecture_params_are_its_own_fields():
    names = {"conv_channels", "kernel_size", "lstm_hidden", "lstm_layers", "dense", "dropout"}
    trial = optuna.create_study().ask()
    assert set(space.suggest(trial, "cnn_lstm").model_config) == names


def test_an_unknown_config_field_is_a_usage_error():
    with pytest.raises(UsageError, match="no config field wings"):
        model_config("tcn", "default", 5, 60, {"wings": 2})


def test_an_architecture_without_a_space_cannot_be_tuned(monkeypatch):
    from dataclasses import replace

    spec = architectures.load("tcn")
    monkeypatch.setattr(architectures, "load", lambda name: replace(spec, search_space=None))
    with pytest.raises(UsageError, match="declares no search space"):
        space.architecture_space("tcn")
