"""Errors that the CLI turns into one line on stderr and a non-zero exit code (never a traceback)."""


class AtbError(Exception):
    """A problem the user can fix; its message is the whole explanation."""

    exit_code = 1


class UsageError(AtbError):
    """Bad arguments or options (exit code 2, like typer's own usage errors)."""

    exit_code = 2


class DataError(AtbError):
    """Candle data that is missing, malformed or too short for the request."""


class NetworkError(AtbError):
    """The exchange cannot be reached; the message names the offline alternatives."""


class ModelError(AtbError):
    """A model version that is missing, incomplete or fails its checks."""
