"""The options that several commands share, each declared once: its flags, its type and its help.

Use as ``models_dir: options.ModelsDir = None``. Defaults stay with the parameter, read from where the value
is defined (``TrainRequest`` for training, e.g. ``device: options.Device = TrainRequest.device``).
Help texts that list the architectures are read again from the architecture table before every command line
(``refresh_help``), so an architecture registered after import (a plugin, a test) is listed too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from typer.models import OptionInfo

from atb.features.sets import ALL, FEATURE_GROUPS
from atb.models import registry as architectures


def _model_type_help() -> str:
    """``cnn_lstm (baseline), attention_lstm or tcn.``"""
    items = [f"{a.name} ({a.note})" if a.note else a.name for a in architectures.architectures()]
    return f"{', '.join(items[:-1])} or {items[-1]}." if len(items) > 1 else f"{items[0]}."


def _models_help() -> str:
    names = architectures.names()
    return (f"Comma list of {', '.join(names)}, each with an optional :variant, e.g. {names[0]},{names[-1]}:"
            f"{architectures.VARIANTS[0]} (default: every architecture, default variant).")


def _architecture_filter_help() -> str:
    return f"Only this architecture: {', '.join(architectures.names())}."


_MODEL_TYPE = typer.Option("--model-type", "-m", help=_model_type_help())
_MODELS = typer.Option("--models", help=_models_help())
_ARCHITECTURE_FILTER = typer.Option("--architecture", "-a", help=_architecture_filter_help())
_LIVE_HELP: tuple[tuple[OptionInfo, Callable[[], str]], ...] = (
    (_MODEL_TYPE, _model_type_help), (_MODELS, _models_help), (_ARCHITECTURE_FILTER, _architecture_filter_help),
)


def refresh_help() -> None:
    for option, text in _LIVE_HELP:
        option.help = text()


# --- what to train ---------------------------------------------------------------------------------
ModelType = Annotated[str, _MODEL_TYPE]
ModelVariant = Annotated[str, typer.Option("--model-variant", "--variant",
                                           help=f"{', '.join(architectures.VARIANTS[:-1])} or "
                                                f"{architectures.VARIANTS[-1]}.")]
Models = Annotated[str | None, _MODELS]
ArchitectureFilter = Annotated[str | None, _ARCHITECTURE_FILTER]
Days = Annotated[float | None, typer.Option("--days", help="Days of target times (train+validation+test).")]
EndDate = Annotated[str | None, typer.Option(
    "--end-date", help="Last day, included whole (YYYY-MM-DD: every candle that opens that day), or an ISO time "
                       "(UTC): the newest target time is the last candle at or before it; default: now (exchange) "
                       "or the file's last candle.")]
Features = Annotated[str, typer.Option(
    "--features", help=f"Feature set: {ALL}, or groups joined with '+' ({', '.join(FEATURE_GROUPS)}), e.g. "
                       "returns+volume.")]
Epochs = Annotated[int | None, typer.Option("--epochs", help="Maximum epochs per run (early stopping may end "
                                                             "sooner).")]

# --- where the candles come from -------------------------------------------------------------------
DataSource = Annotated[str | None, typer.Option("--data-source", help="exchange, file or synthetic (default: file "
                                                                      "with --data-file, else exchange).")]
DataFile = Annotated[Path | None, typer.Option("--data-file", help="Candle file (CSV, feather, json).")]
Exchange = Annotated[str, typer.Option("--exchange", "-e", help="ccxt exchange id: where candles come from, and "
                                                                "their cache folder.")]
Timeframe = Annotated[str, typer.Option("--timeframe", "-t", help="Candle length: 1m, 5m, 15m, 1h, 4h, 1d ...")]

# --- where it runs and where results go ------------------------------------------------------------
Device = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]
Threads = Annotated[int | None, typer.Option("--threads", help="CPU threads (default $ATB_THREADS or 1; more "
                                                               "pay only on a machine you have to yourself).")]
ModelsDir = Annotated[Path | None, typer.Option("--models-dir", help="Model registry root (default "
                                                                     "$ATB_MODELS_DIR or src/ml/models).")]
Version = Annotated[str | None, typer.Option("--version", "-v", help="Version folder name (default: latest).")]
NoDb = Annotated[bool, typer.Option("--no-db", help="Do not record this in the run-log database (ATB_DB=off: "
                                                    "never record anything).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON (machine-readable) instead of tables.")]

# --- how much runs at once, and where ----------------------------------------------------------------
Workers = Annotated[int, typer.Option("--workers", "-w", help="Worker processes on this machine (torch threads "
                                                              "per worker = cores / workers).")]
Ray = Annotated[str | None, typer.Option("--ray", help="Run on the Ray cluster at this address (HOST:PORT; default "
                                                       "$RAY_ADDRESS); needs the extra: "
                                                       "pip install -e \".\\[distributed]\".")]
Html = Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML report (interactive "
                                                          "charts, opens offline) to this file.")]


def check_html_path(path: Path | None) -> None:
    """--html FILE: an .html or .htm file name (checked before any work is done)."""
    from atb.errors import UsageError

    if path is not None and path.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--html {path}: the report is an HTML file; name it *.html")
