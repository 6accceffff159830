"""Ctrl-C and SIGTERM end a run cleanly: the first one raises an exception so that staging folders are
removed and the run is logged as interrupted; a second one, during that cleanup, exits at once."""

from __future__ import annotations

import os
import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the same cleanup runs."""


received: int | None = None  # the first signal, kept because typer turns the exception into exit code 130


def install() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    signal.signal(signal.SIGINT, _first_signal)
    signal.signal(signal.SIGTERM, _first_signal)


def _first_signal(signum: int, _frame: object) -> None:
    global received
    received = signum
    signal.signal(signal.SIGINT, _second_signal)
    signal.signal(signal.SIGTERM, _second_signal)
    if signum == signal.SIGTERM:
        raise Terminated("terminated (SIGTERM)")
    raise KeyboardInterrupt("interrupted (Ctrl-C)")


def _second_signal(signum: int, _frame: object) -> None:
    os.write(2, b"\nerror: interrupted again, exiting now\n")
    os._exit(128 + signum)


def exit_code(exc: KeyboardInterrupt) -> int:
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def message() -> str:
    return "terminated (SIGTERM)" if received == signal.SIGTERM else "interrupted (Ctrl-C)"
