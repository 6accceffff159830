"""The one place that turns (architecture, variant) into a model config and a config into a model, for any
architecture in the table (atb.models.registry)."""

from __future__ import annotations

from dataclasses import asdict, fields

from torch import nn

from atb.errors import UsageError
from atb.models import registry


def model_config(architecture: str, variant: str, n_features: int, sequence_length: int,
                 overrides: dict | None = None) -> dict:
    """The full constructor arguments plus the derived facts; saved in metadata.json so the weights can be
    rebuilt. ``overrides``: config field values over the variant's (a tuned configuration)."""
    registry.check(architecture, variant)
    spec = registry.load(architecture)
    given = {"n_features": n_features, "sequence_length": sequence_length}
    names = [f.name for f in fields(spec.config)]
    unknown = sorted(set(overrides or {}) - set(names) | set(overrides or {}) & set(given))
    if unknown:
        raise UsageError(f"{architecture} has no config field {', '.join(unknown)} to set; its fields: "
                         f"{', '.join(n for n in names if n not in given)}")
    args = {name: given[name] for name in names if name in given}
    try:
        cfg = spec.config(**args, **{**spec.variants[variant], **(overrides or {})})
    except (TypeError, ValueError) as exc:
        raise UsageError(f"invalid {architecture} configuration: {exc}") from None
    return {**asdict(cfg), **spec.derived(cfg)}


def build_model(architecture: str, config: dict) -> nn.Module:
    """The untrained model of a saved config (derived facts in it are left out)."""
    spec = registry.load(architecture)
    names = {f.name for f in fields(spec.config)}
    return spec.model(spec.config(**{k: v for k, v in config.items() if k in names}))


def reported_facts(architecture: str, config: dict) -> dict:
    """The derived facts that metadata.json's training_params repeats (e.g. the TCN's receptive field)."""
    return {k: config[k] for k in registry.load(architecture).reported if k in config}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
