"""The stacking combiner (atb.ensemble.combiner): nnls, ridge and mean, checked against independent solvers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from atb.ensemble.combiner import RIDGE_PENALTIES, fit_combiner
from atb.errors import UsageError


def members(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three members' predicted log returns and the realised ones: the target is 0.0004 + 0.7 r1 + 0.3 r2 +
    noise, and the third member is anti-correlated (least squares alone would give it a negative weight)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(0, 0.003, (n, 2))
    y = 0.0004 + 0.7 * signal[:, 0] + 0.3 * signal[:, 1] + rng.normal(0, 0.001, n)
    third = -0.5 * y + rng.normal(0, 0.001, n)
    return np.column_stack([signal, third]), y


def test_nnls_weights_are_non_negative_and_optimal_under_that_constraint():
    x, y = members()
    c = fit_combiner("nnls", x, y)
    assert (c.weights >= 0).all() and c.weights[2] == 0.0  # the anti-correlated member is dropped, not negated
    assert c.weights[:2] == pytest.approx([0.7, 0.3], abs=0.05) and c.intercept == pytest.approx(0.0004, abs=2e-4)
    # The same problem by another solver: bounded least squares with the intercept as a free column.
    design = np.column_stack([x, np.ones(len(y))])
    ref = lsq_linear(design, y, bounds=([0, 0, 0, -np.inf], [np.inf] * 4), tol=1e-14, lsmr_tol="auto")
    np.testing.assert_allclose(c.weights, ref.x[:3], atol=1e-7)
    assert c.intercept == pytest.approx(ref.x[3], abs=1e-9)
    np.testing.assert_allclose(c.combine(x), design @ np.r_[c.weights, c.intercept])


def test_ridge_without_a_penalty_is_least_squares_and_the_penalty_is_chosen_by_forward_chaining_cv():
    x, y = members()
    c = fit_combiner("ridge", x, y)
    assert c.fit["penalties"] == list(RIDGE_PENALTIES) and len(c.fit["cv_mse"]) == len(RIDGE_PENALTIES)
    best = int(np.nanargmin(c.fit["cv_mse"]))
    assert c.fit["penalty"] == RIDGE_PENALTIES[best] and "forward-chaining" in c.fit["cv"]
    # The first penalty's CV score, by hand: 5 blocks of 60 rows, fit on the blocks before, score on the next.
    scores = []
    for b in range(1, 5):
        fit_x, fit_y = x[: 60 * b], y[: 60 * b]
        design = np.column_stack([fit_x, np.ones(len(fit_y))])
        coef = np.linalg.lstsq(design, fit_y, rcond=None)[0]
        held = slice(60 * b, 60 * (b + 1))
        scores.append(np.mean((np.column_stack([x[held], np.ones(60)]) @ coef - y[held]) ** 2))
    assert c.fit["cv_mse"][0] == pytest.approx(np.mean(scores), rel=1e-9)
    ols = np.linalg.lstsq(np.column_stack([x, np.ones(len(y))]), y, rcond=None)[0]
    if c.fit["penalty"] == 0.0:
        np.testing.assert_allclose(np.r_[c.weights, c.intercept], ols, atol=1e-9)
    else:  # a penalty shrinks the weights towards 0
        assert np.linalg.norm(c.weights) < np.linalg.norm(ols[:3])


def test_mean_is_equal_weights_and_fits_nothing():
    x, y = members()
    c = fit_combiner("mean", x, y)
    assert c.weights.tolist() == [1 / 3] * 3 and c.intercept == 0.0 and not c.fit
    c2 = fit_combiner("mean", x, np.zeros_like(y))
    assert c2.to_dict() == c.to_dict()


def test_an_unknown_method_is_one_usage_line():
    x, y = members(20)
    with pytest.raises(UsageError, match=r"unknown ensemble method 'best'; choose one of: nnls, ridge, mean"):
        fit_combiner("best", x, y)


def test_non_finite_inputs_are_refused():
    x, y = members(20)
    x[3, 1] = np.nan
    with pytest.raises(ValueError):
        fit_combiner("nnls", x, y)
