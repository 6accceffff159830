"""Shared rich consoles: results on stdout, progress, warnings and errors on stderr."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)


class WarningHandler(logging.Handler):
    """The library logs; this renders its warnings (loggers under "atb") as `warning: ...` lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            warn(escape(record.getMessage()))  # paths and driver messages may hold [brackets]
        except Exception:  # a warning must never be the thing that breaks a run
            self.handleError(record)


def show_library_warnings() -> None:
    logger = logging.getLogger("atb")
    if not any(isinstance(h, WarningHandler) for h in logger.handlers):
        logger.addHandler(WarningHandler(logging.WARNING))
