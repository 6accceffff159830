"""Running a typer app with atb's conventions: one-line errors, exit 2 for usage, 130/143 for signals, the
library's warnings on stderr. Used by `atb` (main.py) and scripts/phase1_benchmark.py (bench.run_script)."""

from __future__ import annotations

import os
import sys

import typer

# typer >= 0.22 vendors click; its exceptions are what a non-standalone call raises.
from typer._click import exceptions as click

from atb import interrupts
from atb.cli import options
from atb.cli.console import show_library_warnings
from atb.errors import AtbError


def _error(message: str, code: int) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def run_app(typer_app: typer.Typer, argv: list[str] | None, prog_name: str) -> None:
    interrupts.install()
    show_library_warnings()
    options.refresh_help()
    command = typer.main.get_command(typer_app)
    try:
        result = command.main(args=argv if argv is not None else sys.argv[1:], prog_name=prog_name,
                              standalone_mode=False)
    except click.NoArgsIsHelpError:
        sys.exit(2)  # typer has already printed the help
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        _error(f"{exc.format_message()}{hint}", 2)
    except click.ClickException as exc:
        _error(exc.format_message(), exc.exit_code)
    except AtbError as exc:
        _error(str(exc), exc.exit_code)
    except KeyboardInterrupt as exc:
        _error(str(exc) or "interrupted", interrupts.exit_code(exc))
    except typer.Abort:
        _error("interrupted", 130)
    except Exception as exc:  # a bug: still one line, the traceback on request
        if os.environ.get("ATB_DEBUG"):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (set ATB_DEBUG=1 for the traceback)", 1)
    if interrupts.received is not None:  # typer has turned the interrupt into a bare exit code
        _error(interrupts.message(), 128 + interrupts.received)
    sys.exit(result if isinstance(result, int) else 0)
