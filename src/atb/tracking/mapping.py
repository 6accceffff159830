"""From what the training pipeline hands us (the run's parameters, its VersionMetadata) to `training_runs`
columns. Pure functions: a key that is missing or of the wrong type gives None, never an exception (the JSON
columns keep everything anyway)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atb.evaluation.metric_table import BACKTEST_PREFIX
from atb.jsonio import clean_text, to_jsonable
from atb.registry.metadata import VersionMetadata
from atb.tracking.values import as_float, as_int, parse_time

# evaluation_results keys stored under the same column name
_EVALUATION = ("test_rmse", "test_mae", "mape", "directional_accuracy", "directional_p_value",
               "naive_test_rmse", "naive_test_mae", "naive_mape", "rmse_skill_vs_naive", "val_loss",
               "train_loss")
# the strategy's figures and Sharpe tests stored as backtest_<key> (evaluation.metric_table.BACKTEST_PREFIX)
_STRATEGY = ("sharpe", "total_return", "max_drawdown", "fees_paid")
_SHARPE_TESTS = ("psr_vs_zero", "psr_vs_buy_and_hold")
_PERFORMANCE = ("training_time_s", "inference_ms_p50", "inference_ms_p95", "batch_throughput_per_s",
                "peak_rss_mb")


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _first(*values: Any) -> Any:
    return next((value for value in values if value not in (None, "")), None)


def param_columns(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "epochs": as_int(params.get("epochs")),
        "epochs_run": as_int(params.get("epochs_run")),
        "batch_size": as_int(params.get("batch_size")),
        "sequence_length": as_int(params.get("sequence_length")),
        "learning_rate": as_float(params.get("learning_rate")),
        "seed": as_int(params.get("seed")),
        "device": clean_text(params.get("device")),
        "days": as_float(params.get("days")),
    }


def start_columns(run: Mapping[str, Any]) -> dict[str, Any]:
    """`RunLog.start(run)`: version_id, symbol, timeframe, architecture, variant, params, data_source,
    data_start, data_end (the params dict fills what the top level leaves out)."""
    params = _dict(run.get("params"))
    return {
        "version_id": clean_text(run.get("version_id")),
        "symbol": clean_text(_first(run.get("symbol"), params.get("symbol"))),
        "timeframe": clean_text(_first(run.get("timeframe"), params.get("timeframe"))),
        "architecture": clean_text(_first(run.get("architecture"), params.get("architecture"))),
        "variant": clean_text(_first(run.get("variant"), params.get("architecture_variant"),
                                     params.get("variant"))),
        "params": to_jsonable(dict(params)),
        **param_columns(params),
        "data_source": clean_text(run.get("data_source")),
        "data_start": parse_time(_first(run.get("data_start"), params.get("start"))),
        "data_end": parse_time(_first(run.get("data_end"), params.get("end"))),
    }


def backtest_columns(backtest: Mapping[str, Any] | None) -> dict[str, Any]:
    """metadata.json's backtest (atb.backtest's to_dict) as the run log's backtest_* columns; all None without one
    (an older version, or {"skipped": why})."""
    backtest = _dict(backtest)
    strategy, hold = _dict(backtest.get("strategy")), _dict(backtest.get("buy_and_hold"))
    ci = strategy.get("sharpe_ci95")
    ci = ci if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)
    return {
        **{f"{BACKTEST_PREFIX}{key}": as_float(strategy.get(key)) for key in _STRATEGY},
        "backtest_sharpe_ci_low": as_float(ci[0]),
        "backtest_sharpe_ci_high": as_float(ci[1]),
        "backtest_n_trades": as_int(strategy.get("n_trades")),
        **{f"{BACKTEST_PREFIX}{key}": as_float(backtest.get(key)) for key in _SHARPE_TESTS},
        "backtest_buy_and_hold_sharpe": as_float(hold.get("sharpe")),
        "backtest_threshold": as_float(backtest.get("threshold")),
    }


def metadata_columns(meta: VersionMetadata) -> dict[str, Any]:
    """A metadata.json (registry.metadata) as columns, the whole document included."""
    params, data, evaluation, performance = meta.training_params, meta.data, meta.evaluation_results, meta.performance
    given = params.to_json()
    ci = evaluation.directional_accuracy_ci95
    ci = ci if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)
    return {
        "version_id": clean_text(meta.version_id),
        "symbol": clean_text(meta.symbol),
        "timeframe": clean_text(params.timeframe),
        "architecture": clean_text(params.architecture),
        # "variant": a key some hand-made documents use
        "variant": clean_text(_first(params.architecture_variant, params.other.get("variant"))),
        "params": to_jsonable(given) if given else None,
        **param_columns(given),
        "data_source": clean_text(data.source),
        "data_start": parse_time(_first(params.start, data.train.start)),
        "data_end": parse_time(_first(params.end, data.test.end)),
        "data_rows": as_int(data.rows),
        "data_gaps": as_int(data.gaps),
        **{key: as_float(getattr(evaluation, key)) for key in _EVALUATION},
        "directional_accuracy_ci_low": as_float(ci[0]),
        "directional_accuracy_ci_high": as_float(ci[1]),
        "dm_statistic": as_float(evaluation.dm_vs_naive.statistic),
        "dm_p_value": as_float(evaluation.dm_vs_naive.p_value),
        "dm_p_value_one_sided": as_float(evaluation.dm_vs_naive.p_value_one_sided),
        "directional_pt_p_value": as_float(evaluation.directional_pt_p_value),
        **backtest_columns(meta.backtest_figures()),
        **{key: as_float(getattr(performance, key)) for key in _PERFORMANCE},
        "parameters": as_int(performance.parameters),
        "onnx_max_abs_diff": as_float(meta.onnx.max_abs_diff),
        "run_metadata": to_jsonable(meta.to_json()),
    }
