"""The combiner: weights on the members' predicted log returns plus an intercept, fitted on validation rows only.

Inputs are log returns: ``returns[:, i] = ln(predicted_close_i / last_close)`` of member i, and the target
``ln(actual_close / last_close)``. The ensemble's forecast is ``intercept + returns @ weights`` (a log return),
so its price forecast is ``last_close * exp(intercept + sum_i w_i r_i)``.

- ``nnls`` (default): least squares with non-negative weights (scipy's NNLS) and a free intercept. The intercept
  is profiled out by centring: for any weights the best intercept is ``mean(y) - mean(R) @ w``, so NNLS on the
  centred columns gives the exact constrained optimum.
- ``ridge``: least squares with an L2 penalty on the weights (not on the intercept). The penalty is chosen on
  the validation rows alone, by forward-chaining (time-series) cross-validation inside them: the rows are cut
  into contiguous blocks; for each block after the first, fit on every earlier block and score the squared error
  on it; the penalty with the lowest mean score wins (ties: the larger penalty), then the weights are refitted on
  all validation rows with it. Penalties are relative: ``lambda * n * mean column variance``.
- ``mean``: equal weights 1/k, intercept 0; nothing is fitted.

Nothing here sees a test row: the caller passes the validation matrix only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from atb.ensemble import METHODS
from atb.errors import UsageError

RIDGE_PENALTIES = (0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0)  # lambda: relative to the data's own scale (see above)
RIDGE_BLOCKS = 5  # forward-chaining blocks inside validation (fewer when there are few rows)
MIN_BLOCK_ROWS = 4


@dataclass(frozen=True)
class Combiner:
    method: str
    weights: np.ndarray  # (k,), one per member in the members' order
    intercept: float  # log return
    fit: dict = field(default_factory=dict)  # how it was fitted (ridge: the penalties tried and their CV scores)

    def combine(self, returns: np.ndarray) -> np.ndarray:
        """(n, k) member log returns -> (n,) ensemble log returns."""
        return self.intercept + np.asarray(returns, np.float64) @ self.weights

    def to_dict(self) -> dict:
        return {"method": self.method, "weights": [float(w) for w in self.weights], "intercept": float(self.intercept),
                **({"fit": self.fit} if self.fit else {})}


def check_method(method: str) -> str:
    if method not in METHODS:
        raise UsageError(f"unknown ensemble method {method!r}; choose one of: {', '.join(METHODS)}")
    return method


def fit_combiner(method: str, returns: np.ndarray, target: np.ndarray) -> Combiner:
    """Fit on validation rows: ``returns`` (n, k) the members' predicted log returns, ``target`` (n,) the realised
    log returns of the same target times."""
    check_method(method)
    x = np.asarray(returns, np.float64)
    y = np.asarray(target, np.float64)
    if x.ndim != 2 or len(x) != len(y) or len(y) < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("the combiner needs at least two finite validation rows, one column per member")
    k = x.shape[1]
    if method == "mean":
        return Combiner(method, np.full(k, 1.0 / k), 0.0)
    if method == "nnls":
        weights, intercept = _nnls(x, y)
        return Combiner(method, weights, intercept)
    penalty, scores = _choose_penalty(x, y)
    weights, intercept = _ridge(x, y, penalty)
    return Combiner(method, weights, intercept, {
        "penalty": penalty, "penalties": list(RIDGE_PENALTIES), "cv_mse": scores,
        "cv": f"forward-chaining over {_blocks(len(y))} contiguous blocks of the validation rows",
    })


def _nnls(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    from scipy.optimize import nnls  # scipy: deferred, as everywhere

    mx, my = x.mean(axis=0), y.mean()
    scale = float(np.std(y)) or 1.0  # one scale for the columns and the target: the same solution, better conditioned
    weights, _ = nnls((x - mx) / scale, (y - my) / scale)
    return weights, float(my - mx @ weights)


def _ridge(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, float]:
    mx, my = x.mean(axis=0), y.mean()
    xc, yc = x - mx, y - my
    k = x.shape[1]
    alpha = penalty * len(y) * float(np.mean(np.var(x, axis=0)))
    weights = np.linalg.lstsq(xc.T @ xc + alpha * np.eye(k), xc.T @ yc, rcond=None)[0]
    return weights, float(my - mx @ weights)


def _blocks(n: int) -> int:
    return max(2, min(RIDGE_BLOCKS, n // MIN_BLOCK_ROWS))


def _choose_penalty(x: np.ndarray, y: np.ndarray) -> tuple[float, list[float]]:
    """Forward-chaining CV inside the validation rows (module docstring)."""
    edges = np.linspace(0, len(y), _blocks(len(y)) + 1).astype(int)
    scores = []
    for penalty in RIDGE_PENALTIES:
        errors = []
        for b in range(1, len(edges) - 1):
            fit_rows, score_rows = slice(0, edges[b]), slice(edges[b], edges[b + 1])
            if edges[b] < 2:
                continue
            w, c = _ridge(x[fit_rows], y[fit_rows], penalty)
            errors.append(np.mean((c + x[score_rows] @ w - y[score_rows]) ** 2))
        scores.append(float(np.mean(errors)) if errors else float("nan"))
    finite = [(s, -i) for i, s in enumerate(scores) if np.isfinite(s)]
    best = -min(finite)[1] if finite else 0  # ties: the larger penalty (the later one in the grid)
    return RIDGE_PENALTIES[best], scores
