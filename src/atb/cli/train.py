"""`atb train model SYMBOL ...`: train, evaluate, export and register one model version."""

from __future__ import annotations

import json

import typer

from atb.cli import options as opt
from atb.cli.console import out
from atb.cli.summary import print_training_summary
from atb.training.request import LOSSES, TrainRequest

app = typer.Typer(help="Train forecasting models.", no_args_is_help=True)


@app.command("model")
def model(
    symbol: str = typer.Argument(..., help="Market symbol, e.g. BTCUSDT."),
    model_type: opt.ModelType = TrainRequest.architecture,
    model_variant: opt.ModelVariant = TrainRequest.variant,
    days: opt.Days = TrainRequest.days,
    start_date: str | None = typer.Option(None, "--start-date",
                                          help="First target date or ISO time (UTC; a date means 00:00), "
                                               "instead of --days."),
    end_date: opt.EndDate = None,
    timeframe: opt.Timeframe = TrainRequest.timeframe,
    epochs: opt.Epochs = TrainRequest.epochs,
    batch_size: int | None = typer.Option(None, "--batch-size", help="Default: 32 on CPU, 512 on CUDA."),
    sequence_length: int = typer.Option(TrainRequest.sequence_length, "--sequence-length",
                                        help="Candles per input window."),
    learning_rate: float = typer.Option(TrainRequest.learning_rate, "--learning-rate", help="Adam learning rate."),
    patience: int = typer.Option(TrainRequest.patience, "--patience", help="Early-stopping patience in epochs."),
    seed: int = typer.Option(TrainRequest.seed, "--seed", help="Random seed (runs are reproducible on CPU)."),
    device: opt.Device = TrainRequest.device,
    threads: opt.Threads = None,
    data_source: opt.DataSource = None,
    data_file: opt.DataFile = None,
    exchange: opt.Exchange = TrainRequest.exchange,
    models_dir: opt.ModelsDir = None,
    loss: str = typer.Option(TrainRequest.loss, "--loss", help=f"{' or '.join(LOSSES)}."),
    features: opt.Features = TrainRequest.features,
    no_db: opt.NoDb = False,
    as_json: opt.Json = False,
) -> None:
    """Train one model version of SYMBOL and evaluate it on an untouched test split."""
    # Deferred: pandas, torch and rich.progress would slow down `atb --help`.
    from atb.cli.progress import RichReporter
    from atb.data.timeparse import optional_time
    from atb.training.pipeline import train_model

    source = data_source or ("file" if data_file else "exchange")
    start = optional_time(start_date, "--start-date")
    request = TrainRequest(
        symbol=symbol.upper().replace("/", ""), architecture=model_type, variant=model_variant,
        days=None if start is not None else days, start=start, end=optional_time(end_date, "--end-date", end=True),
        timeframe=timeframe, epochs=epochs, batch_size=batch_size, sequence_length=sequence_length,
        learning_rate=learning_rate, patience=patience, seed=seed, device=device, threads=threads, data_source=source,
        data_file=str(data_file) if data_file else None, exchange=exchange, models_dir=models_dir, loss=loss,
        features=features,
        log_to_db=not no_db,  # ATB_DB=off is read by the run log itself (atb.tracking.settings)
    )
    with RichReporter() as reporter:
        outcome = train_model(request, reporter)
    if as_json:
        print(json.dumps(outcome.metadata.to_json(), indent=2))
        return
    print_training_summary(out, outcome.metadata)
    out.print(f"[green]✓[/green] Saved {outcome.version_dir}  (latest -> {outcome.version_dir.name})", highlight=False)
