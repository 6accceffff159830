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
        "directional_pt_statistic": direction.pt.statistic,
        "directional_pt_p_value": direction.pt.p_value,
        "directional_excluded": direction.excluded,
        "naive_test_rmse": naive_rmse,
        "naive_test_mae": mae(err_naive),
        "naive_mape": mape(err_naive, actual),
        "rmse_skill_vs_naive": 1 - model_rmse / naive_rmse if naive_rmse > 0 else 0.0,
        "dm_vs_naive": dm.to_dict(),
        "test_windows": len(actual),
        # Base rates over the scored moves: an accuracy near the share of up moves may only mean "always up".
        "predicted_up_pct": direction.predicted_up_pct,
        "actual_up_pct": direction.actual_up_pct,
        **collapse_check(np.log(predicted / last_close), np.log(actual / last_close)),
    }


# A forecast is "collapsed" when it has (nearly) stopped depending on its input: almost every forecast has
# the same sign, or the forecasts barely move compared with the returns they forecast.
COLLAPSE_SIGN_SHARE = 0.95  # share of forecasts on the majority side of zero
COLLAPSE_SPREAD_RATIO = 0.005  # std of the forecast returns / std of the realised returns (R² ceiling 0.0025%)


def collapse_check(predicted_return: np.ndarray, actual_return: np.ndarray) -> dict:
    """``collapsed`` (bool) and ``collapse_reason`` (why, or "")."""
    up_share = float(np.mean(predicted_return > 0)) if len(predicted_return) else float("nan")
    spread = float(np.std(predicted_return)) / float(np.std(actual_return) or np.nan)
    reasons = []
    if max(up_share, 1 - up_share) >= COLLAPSE_SIGN_SHARE:
        side = "up" if up_share >= 0.5 else "down (or flat)"
        reasons.append(f"{100 * max(up_share, 1 - up_share):.0f}% of the forecasts are {side} "
                       f"(rule: >= {100 * COLLAPSE_SIGN_SHARE:.0f}% on one side)")
    if spread < COLLAPSE_SPREAD_RATIO:
        reasons.append(f"the forecast returns' spread is {100 * spread:.2f}% of the realised returns' "
                       f"(rule: < {100 * COLLAPSE_SPREAD_RATIO:.1f}%)")
    return {"collapsed": bool(reasons), "collapse_reason": "; ".join(reasons),
            "forecast_spread_ratio": spread}
