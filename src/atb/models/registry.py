"""The architecture table: one line per architecture, the only place that names them.

A line says where the architecture lives (its module declares the config dataclass, the nn.Module and the
variants: see :class:`atb.models.spec.ArchitectureSpec`) plus the few facts that the CLI, the plots and the
comparison need. Those facts sit here, not in the module, because the module imports torch (~1.7 s) and
`atb --help`, argument checks and reports must not pay for that: this file imports nothing heavy.

Adding an architecture is one new module under ``atb/models/`` and one line below. ``register`` is also the
door for tests and plugins.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from atb.errors import UsageError
from atb.models.spec import ArchitectureSpec

# Every architecture offers the same three sizes (parameter counts grow in this order; a test checks).
VARIANTS = ("lightweight", "default", "deep")


@dataclass(frozen=True)
class Architecture:
    name: str  # --model-type, metadata.json's training_params.architecture, version folder names
    module: str  # imported on first use; its SPEC is an ArchitectureSpec
    display: str  # the name in prose, e.g. "Attention-LSTM"
    color: str  # matplotlib colour of its bars in the comparison plot
    note: str = ""  # a few words for --help, e.g. "baseline"
    # Roles in the Phase-1 benchmark and its decision matrix (the guide's Scenarios):
    baseline: bool = False  # the model every other one is compared with (exactly one line has it)
    challenger: bool = False  # Scenarios 1-4: judged by its RMSE improvement over the baseline
    speed_candidate: bool = False  # Scenario 5: judged by fit speed at similar accuracy


_TABLE: dict[str, Architecture] = {}


def register(arch: Architecture) -> Architecture:
    """Add an architecture (a plugin's or a test's); its name must be new."""
    if arch.name in _TABLE:
        raise ValueError(f"architecture {arch.name!r} is already registered")
    if arch.baseline and any(a.baseline for a in _TABLE.values()):
        raise ValueError(f"{arch.name}: there is already a baseline ({baseline().name})")
    _TABLE[arch.name] = arch
    return arch


def unregister(name: str) -> None:
    _TABLE.pop(name, None)


# The table: one line per architecture (its facts are read without importing torch; see above).
register(Architecture("cnn_lstm", "atb.models.cnn_lstm", "CNN-LSTM", "tab:gray", "baseline", baseline=True))
register(Architecture("attention_lstm", "atb.models.attention_lstm", "Attention-LSTM", "tab:green",
                      challenger=True))
register(Architecture("tcn", "atb.models.tcn", "TCN", "tab:blue", speed_candidate=True))
register(Architecture("tcn_attention", "atb.models.tcn_attention", "TCN-Attention", "tab:orange"))


def names() -> tuple[str, ...]:
    """Every registered architecture, in registration order (the benchmark's and the reports' order)."""
    return tuple(_TABLE)


def architectures() -> tuple[Architecture, ...]:
    return tuple(_TABLE.values())


def get(name: str) -> Architecture:
    try:
        return _TABLE[name]
    except KeyError:
        raise UsageError(f"unknown model type {name!r}; choose one of: {', '.join(_TABLE)}") from None


def check(name: str, variant: str) -> None:
    """UsageError for an unknown architecture or variant, naming the choices."""
    get(name)
    if variant not in VARIANTS:
        raise UsageError(f"unknown model variant {variant!r}; choose one of: {', '.join(VARIANTS)}")


def baseline() -> Architecture:
    return next(a for a in _TABLE.values() if a.baseline)


def load(name: str) -> ArchitectureSpec:
    """The architecture's module-side declaration; imports its module (and torch)."""
    arch = get(name)
    spec = getattr(importlib.import_module(arch.module), "SPEC", None)
    if not isinstance(spec, ArchitectureSpec):
        raise TypeError(f"{arch.module} declares no SPEC = ArchitectureSpec(...)")
    if tuple(spec.variants) != VARIANTS:
        raise TypeError(f"{arch.module}: VARIANTS must be {', '.join(VARIANTS)} in that order")
    return spec
