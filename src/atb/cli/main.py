"""Entry point of the `atb` command: assembles the command groups and turns errors into one line."""

from __future__ import annotations

import os
import sys

import typer

# typer >= 0.22 vendors click; its exceptions are what a non-standalone call raises.
from typer._click import exceptions as click

from atb import __version__, interrupts
from atb.cli import bench, data, db, dev, models, runs, train
from atb.errors import AtbError

app = typer.Typer(
    name="atb",
    help="Train, evaluate and benchmark deep-learning price-forecasting models for crypto markets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(dev.app, name="dev")
app.add_typer(data.app, name="data")
app.add_typer(train.app, name="train")
app.add_typer(models.app, name="models")
app.add_typer(runs.app, name="runs")
app.add_typer(db.app, name="db")
app.add_typer(bench.app, name="bench")
app.command("predict")(models.predict)


def _version(value: bool) -> None:
    if value:
        print(f"atb {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """atb: honest forecasting benchmarks for crypto markets."""


def _error(message: str, code: int) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def run(argv: list[str] | None = None) -> None:
    run_app(app, argv, "atb")


def run_app(typer_app: typer.Typer, argv: list[str] | None, prog_name: str) -> None:
    """Run a typer app with atb's conventions: one-line errors, exit 2 for usage, 130/143 for signals."""
    interrupts.install()
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


if __name__ == "__main__":
    run()
