"""Price-scale metrics of a forecast and of naive persistence on the same windows.

Everything here can be recomputed from predictions.parquet (target_time, last_close, actual_close,
predicted_close): the naive forecast is "next close = last close".
"""

from __future__ import annotations

import numpy as np

from atb.evaluation.stats import diebold_mariano, directional_accuracy


def rmse(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(errors))))


def mae(errors: np.ndarray) -> float:
    return float(np.mean(np.abs(errors)))


def mape(errors: np.ndarray, actual: np.ndarray) -> float:
    return float(100 * np.mean(np.abs(errors) / np.abs(actual)))


def evaluate_forecasts(last_close: np.ndarray, actual: np.ndarray, predicted: np.ndarray,
                       horizon: int = 1) -> dict:
    err_model = predicted - actual
    err_naive = last_close - actual
    direction = directional_accuracy(last_close, actual, predicted)
    dm = diebold_mariano(err_model, err_naive, horizon)
    model_rmse, naive_rmse = rmse(err_model), rmse(err_naive)
    return {
        "test_rmse": model_rmse,
        "test_mae": mae(err_model),
        "mape": mape(err_model, actual),
        "directional_accuracy": direction.accuracy,
        "directional_accuracy_ci95": list(direction.ci95),
        "directional_p_value": direction.p_value,
        "naive_test_rmse": naive_rmse,
        "naive_test_mae": mae(err_naive),
        "naive_mape": mape(err_naive, actual),
        "rmse_skill_vs_naive": 1 - model_rmse / naive_rmse if naive_rmse > 0 else 0.0,
        "dm_vs_naive": {"statistic": dm.statistic, "p_value": dm.p_value},
        "test_windows": len(actual),
        # Base rates: a directional accuracy near the share of up moves may only mean "always up".
        "predicted_up_pct": float(100 * np.mean(predicted > last_close)),
        "actual_up_pct": float(100 * np.mean(actual > last_close)),
    }
