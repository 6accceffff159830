"""Entry point of the `atb` command: assembles the command groups and turns errors into one line."""

from __future__ import annotations

import typer

from atb import __version__
from atb.cli import ab, backtest, bench, data, db, dev, doctor, models, runs, serve, train, tune
from atb.cli.app import run_app

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
app.command("backtest")(backtest.backtest)
app.command("serve")(serve.serve)
app.add_typer(ab.app, name="ab")
app.command("doctor")(doctor.doctor)
app.add_typer(tune.app, name="tune")


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


def run(argv: list[str] | None = None) -> None:
    run_app(app, argv, "atb")


if __name__ == "__main__":
    run()
