"""Stacking ensembles: registered model versions combined by weights fitted on their validation predictions, and
shipped as one model.onnx.

The facts every reader of the registry needs are here and cheap to import (no numpy, no torch): a version whose
``training_params.architecture`` is ``ensemble`` is not in the architecture table (atb.models.registry: nothing
can be trained as one), so code that looks up an architecture named in a version's metadata asks
``describe(name)``, which knows both.

- ``combiner.py``: the weights (nnls, ridge, mean), fitted on validation rows only (numpy/scipy);
- ``members.py``: loading the members and the checks that they can be combined (one-line errors);
- ``windows.py``: the members' candles and the raw feature windows of their target times;
- ``composite.py``: the members rebuilt from their weights inside one torch module (raw window in, combined log
  return out), for the ONNX export;
- ``build.py``: one ensemble end to end, published like a training run; ``from_benchmark.py``: one per seed and
  fold of a phase-1 run.
"""

from __future__ import annotations

from atb.models.registry import Architecture
from atb.models.registry import get as _table_entry

ARCHITECTURE = "ensemble"  # training_params.architecture of an ensemble version; its variant is the method
METHODS = ("nnls", "ridge", "mean")
DEFAULT_METHOD = METHODS[0]
MIN_MEMBERS = 2

# What the reports and plots show for an ensemble (the table's facts for an architecture, see describe()).
ENTRY = Architecture(ARCHITECTURE, module="atb.ensemble", display="Ensemble", color="tab:purple",
                     note="stacked members")


def is_ensemble(architecture: str | None) -> bool:
    return architecture == ARCHITECTURE


def describe(architecture: str) -> Architecture:
    """The display facts (name, colour, roles) of an architecture named in a version's metadata: the table's entry,
    or the ensemble's. UsageError for a name that is neither."""
    return ENTRY if is_ensemble(architecture) else _table_entry(architecture)
