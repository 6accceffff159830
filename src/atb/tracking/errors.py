"""The run log's one error type and its one-line warning."""

from __future__ import annotations

import sys

from atb.errors import AtbError


class TrackingError(AtbError):
    """The run-log database cannot be reached, or its schema is not one this atb understands."""


def one_line(exc: BaseException) -> str:
    """The driver's own message on one line: SQLAlchemy wraps it with SQL and a link we do not want."""
    inner = getattr(exc, "orig", None) or exc
    text = " ".join(str(inner).split()) or type(inner).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def warn(message: str) -> None:
    """One line on stderr; the rich console when the CLI is around, plain print otherwise."""
    try:
        from rich.markup import escape

        from atb.cli.console import warn as console_warn

        console_warn(escape(message))  # driver messages and paths may hold [brackets]
    except Exception:  # a warning must never be the thing that breaks a run
        print(f"warning: {message}", file=sys.stderr)
