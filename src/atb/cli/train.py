"""`atb train model SYMBOL ...`: train, evaluate, export and register one model version."""

from __future__ import annotations

from pathlib import Path

import typer

from atb.cli.console import out

app = typer.Typer(help="Train forecasting models.", no_args_is_help=True)


@app.command("model")
def model(
    symbol: str = typer.Argument(..., help="Market symbol, e.g. BTCUSDT."),
    model_type: str = typer.Option("cnn_lstm", "--model-type", "-m",
                                   help="cnn_lstm (baseline), attention_lstm or tcn."),
    model_variant: str = typer.Option("default", "--model-variant", "--variant",
                                      help="lightweight, default or deep."),
    days: float = typer.Option(30, "--days", help="Days of target times (train+validation+test)."),
    start_date: str | None = typer.Option(None, "--start-date",
                                          help="First target date or ISO time (UTC; a date means 00:00), "
                                               "instead of --days."),
    end_date: str | None = typer.Option(None, "--end-date",
                                        help="Last day, included whole (YYYY-MM-DD: every candle that opens "
                                             "that day), or an ISO time (UTC); default: now (exchange) or the "
                                             "file's last candle."),
    timeframe: str = typer.Option("1h", "--timeframe", "-t", help="Candle timeframe."),
    epochs: int = typer.Option(20, "--epochs", help="Maximum epochs (early stopping may end sooner)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Default: 32 on CPU, 512 on CUDA."),
    sequence_length: int = typer.Option(60, "--sequence-length", help="Candles per input window."),
    learning_rate: float = typer.Option(1e-3, "--learning-rate", help="Adam learning rate."),
    patience: int = typer.Option(5, "--patience", help="Early-stopping patience in epochs."),
    seed: int = typer.Option(42, "--seed", help="Random seed (runs are reproducible on CPU)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    threads: int | None = typer.Option(None, "--threads",
                                       help="CPU threads (default $ATB_THREADS or all cores; 1 on a busy machine)."),
    data_source: str | None = typer.Option(None, "--data-source",
                                           help="exchange, file or synthetic (default: file with --data-file, "
                                                "else exchange)."),
    data_file: Path | None = typer.Option(None, "--data-file", help="Candle file (CSV, feather, json)."),
    exchange: str = typer.Option("binance", "--exchange", help="ccxt exchange id for --data-source exchange."),
    models_dir: Path | None = typer.Option(None, "--models-dir",
                                           help="Registry root (default $ATB_MODELS_DIR or src/ml/models)."),
    loss: str = typer.Option("mse", "--loss", help="mse or huber."),
    no_db: bool = typer.Option(False, "--no-db", help="Do not log the run to the database."),
    as_json: bool = typer.Option(False, "--json", help="Print the metadata as JSON instead of a table."),
) -> None:
    """Train one model version of SYMBOL and evaluate it on an untouched test split."""
    import json
    import os

    from atb.cli.progress import RichReporter
    from atb.cli.summary import training_summary
    from atb.data.timeparse import optional_time
    from atb.training.pipeline import TrainRequest, train_model

    source = data_source or ("file" if data_file else "exchange")
    start = optional_time(start_date, "--start-date")
    request = TrainRequest(
        symbol=symbol.upper().replace("/", ""), architecture=model_type, variant=model_variant,
        days=None if start is not None else days, start=start, end=optional_time(end_date, "--end-date", end=True),
        timeframe=timeframe, epochs=epochs, batch_size=batch_size, sequence_length=sequence_length,
        learning_rate=learning_rate, patience=patience, seed=seed, device=device, threads=threads, data_source=source,
        data_file=str(data_file) if data_file else None, exchange=exchange, models_dir=models_dir, loss=loss,
        log_to_db=not no_db and os.environ.get("ATB_DB", "").lower() != "off",
    )
    outcome = train_model(request, RichReporter())
    if as_json:
        print(json.dumps(outcome.metadata.to_json(), indent=2))
        return
    out.print(training_summary(outcome.metadata))
    out.print(f"[green]✓[/green] Saved {outcome.version_dir}  (latest -> {outcome.version_dir.name})", highlight=False)
