"""The run log's one error type, and its driver messages on one line."""

from __future__ import annotations

from atb.errors import AtbError


class TrackingError(AtbError):
    """The run-log database cannot be reached, or its schema is not one this atb understands."""


def one_line(exc: BaseException) -> str:
    """The driver's own message on one line: SQLAlchemy wraps it with SQL and a link we do not want."""
    inner = getattr(exc, "orig", None) or exc
    text = " ".join(str(inner).split()) or type(inner).__name__
    return text if len(text) <= 300 else text[:297] + "..."
