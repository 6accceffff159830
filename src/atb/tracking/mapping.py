"""From the dicts the training pipeline hands us to `training_runs` columns. Pure functions: a key that is
missing or of the wrong type gives None, never an exception (the JSON columns keep everything anyway)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atb.tracking.values import as_float, as_int, clean_text, parse_time, to_jsonable

# evaluation_results keys stored under the same column name
_EVALUATION = ("test_rmse", "test_mae", "mape", "directional_accuracy", "directional_p_value",
               "naive_test_rmse", "naive_test_mae", "naive_mape", "rmse_skill_vs_naive", "val_loss",
               "train_loss")
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


def metadata_columns(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A metadata.json (DESIGN.md) as columns, the whole document included."""
    params = _dict(metadata.get("training_params"))
    data = _dict(metadata.get("data"))
    evaluation = _dict(metadata.get("evaluation_results"))
    performance = _dict(metadata.get("performance"))
    dm = _dict(evaluation.get("dm_vs_naive"))
    ci = evaluation.get("directional_accuracy_ci95")
    ci = ci if isinstance(ci, (list, tuple)) and len(ci) == 2 else (None, None)
    return {
        "version_id": clean_text(metadata.get("version_id")),
        "symbol": clean_text(metadata.get("symbol")),
        "timeframe": clean_text(params.get("timeframe")),
        "architecture": clean_text(params.get("architecture")),
        "variant": clean_text(_first(params.get("architecture_variant"), params.get("variant"))),
        "params": to_jsonable(dict(params)) if params else None,
        **param_columns(params),
        "data_source": clean_text(data.get("source")),
        "data_start": parse_time(_first(params.get("start"), _dict(data.get("train")).get("start"))),
        "data_end": parse_time(_first(params.get("end"), _dict(data.get("test")).get("end"))),
        "data_rows": as_int(data.get("rows")),
        "data_gaps": as_int(data.get("gaps")),
        **{key: as_float(evaluation.get(key)) for key in _EVALUATION},
        "directional_accuracy_ci_low": as_float(ci[0]),
        "directional_accuracy_ci_high": as_float(ci[1]),
        "dm_statistic": as_float(dm.get("statistic")),
        "dm_p_value": as_float(dm.get("p_value")),
        **{key: as_float(performance.get(key)) for key in _PERFORMANCE},
        "parameters": as_int(performance.get("parameters")),
        "onnx_max_abs_diff": as_float(_dict(metadata.get("onnx")).get("max_abs_diff")),
        "run_metadata": to_jsonable(dict(metadata)),
    }
