"""`atb models ...`."""

from __future__ import annotations

import typer

app = typer.Typer(help="models commands.", no_args_is_help=True)


def predict(symbol: str) -> None:
    """Forecast the next close of SYMBOL with the latest model (onnxruntime only)."""
