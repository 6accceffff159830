"""What an architecture module declares, as ``SPEC = ArchitectureSpec(...)`` at its end.

The shape (nanoGPT's config dataclass and plain module, NeuralForecast's uniform constructor):

- ``config``: a dataclass whose fields are the constructor arguments. ``n_features`` is always given;
  ``sequence_length`` too when the dataclass has that field (the TCN sizes its depth by it). Every field is
  saved in metadata.json's ``model_config``, so lists must be accepted where tuples are meant.
- ``model``: the nn.Module class, built as ``model(config)``; input (batch, sequence, features), output (batch,).
- ``variants``: lightweight/default/deep -> field values; parameter counts grow in that order.
- ``derived``: facts computed from a config, saved beside its fields (not constructor arguments), and
  ``reported``: those of them that metadata.json's ``training_params`` repeats.

- ``search_space``: for `atb tune`, a function of an Optuna trial (anything with ``suggest_int``,
  ``suggest_float`` and ``suggest_categorical``) -> config field values, like a variant; width, depth and dropout
  of this architecture only. The training parameters every architecture shares (learning rate, batch size,
  sequence length, loss) are declared once, in atb.tuning.space. None: the architecture cannot be tuned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def _no_facts(config: Any) -> dict:
    return {}


@dataclass(frozen=True)
class ArchitectureSpec:
    config: type
    model: Callable[[Any], Any]  # an nn.Module class
    variants: Mapping[str, Mapping[str, Any]]
    derived: Callable[[Any], dict] = _no_facts
    reported: tuple[str, ...] = ()
    search_space: Callable[[Any], dict] | None = None
