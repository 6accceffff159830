"""`atb train model SYMBOL ...`: train, evaluate, export and register one model version; `atb train ensemble
SYMBOL ...`: stack registered versions into one."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from atb.cli import options as opt
from atb.cli.console import out
from atb.cli.summary import print_ensemble, print_ensembles, print_training_summary
from atb.config import models_dir as default_models_dir
from atb.ensemble import DEFAULT_METHOD, METHODS
from atb.errors import UsageError
from atb.registry.store import ModelStore
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


@app.command("ensemble")
def ensemble(
    symbol: str = typer.Argument(..., help="Registry folder of the members, e.g. BTCUSDT (BTCUSDT-SYNTHETIC for "
                                           "models of the synthetic market)."),
    members: str | None = typer.Option(None, "--members", help="Comma list of member versions (see 'atb models "
                                                               "list'), e.g. V1,V2,V3."),
    from_benchmark: Path | None = typer.Option(None, "--from-benchmark", help="phase1_results.json: one ensemble "
                                                                              "per seed and fold of that run."),
    method: str = typer.Option(DEFAULT_METHOD, "--method", help=f"{' | '.join(METHODS)}: non-negative weights + "
                                                                "intercept, ridge (penalty chosen by CV inside "
                                                                "validation), or equal weights."),
    data_file: opt.DataFile = None,
    models_dir: opt.ModelsDir = None,
    threads: opt.Threads = None,
    no_db: opt.NoDb = False,
    as_json: opt.Json = False,
) -> None:
    """Stack registered versions: weights fitted on their validation predictions, the test split scored once
    (vs naive and vs the best member), one model.onnx; registered as <time>_ensemble_<method>."""
    # Deferred: pandas, torch and rich.progress would slow down `atb --help`.
    from atb.cli.progress import RichReporter
    from atb.ensemble.build import EnsembleRequest, build_ensemble
    from atb.ensemble.combiner import check_method

    check_method(method)
    if (members is None) == (from_benchmark is None):
        raise UsageError("give the members with --members V1,V2,... or a benchmark with --from-benchmark "
                         "phase1_results.json (one of the two)")
    folder = symbol.upper().replace("/", "")
    if from_benchmark is not None:
        _ensembles_from_benchmark(folder, from_benchmark, method, data_file, models_dir, threads, no_db, as_json)
        return
    store = ModelStore(models_dir or default_models_dir())
    names = [v.strip() for v in members.split(",") if v.strip()]
    request = EnsembleRequest(members=[store.resolve(folder, v) for v in names], method=method, models_dir=models_dir,
                              data_file=str(data_file) if data_file else None, threads=threads, log_to_db=not no_db)
    with RichReporter() as reporter:
        outcome = build_ensemble(request, reporter)
    if as_json:
        print(json.dumps(outcome.metadata.to_json(), indent=2))
        return
    print_training_summary(out, outcome.metadata)
    print_ensemble(out, outcome.metadata)
    out.print(f"[green]✓[/green] Saved {outcome.version_dir}  (latest -> {outcome.version_dir.name})", highlight=False)


def _ensembles_from_benchmark(folder: str, results: Path, method: str, data_file: Path | None,
                              models_dir: Path | None, threads: int | None, no_db: bool, as_json: bool) -> None:
    from atb.cli.console import err
    from atb.cli.progress import RichReporter
    from atb.ensemble.build import EnsembleRequest, build_ensemble
    from atb.ensemble.from_benchmark import benchmark_groups
    from atb.errors import AtbError

    settings, groups = benchmark_groups(results, folder, models_dir)
    file = str(data_file) if data_file else settings.get("data_file")
    built, failed = [], []
    for group in groups:
        err.print(f"[bold]{group.title}[/bold]: {', '.join(group.labels) or 'no completed run'}"
                  + (f" (not completed: {', '.join(group.missing)})" if group.missing else ""), highlight=False)
        if not group.enough:
            failed.append({"seed": group.seed, "fold": group.fold, "error": "fewer than 2 completed runs"})
            err.print("  [red]✗[/red] fewer than 2 completed runs: no ensemble", highlight=False)
            continue
        request = EnsembleRequest(members=group.members, method=method, models_dir=models_dir, data_file=file,
                                  threads=threads, log_to_db=not no_db,
                                  extra={"benchmark": str(results), "seed": group.seed, "fold": group.fold})
        try:
            with RichReporter("  ") as reporter:
                outcome = build_ensemble(request, reporter)
        except AtbError as exc:  # this group's problem; the other groups still get their ensemble
            failed.append({"seed": group.seed, "fold": group.fold, "error": str(exc)})
            err.print(f"  [red]✗[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            continue
        built.append((group, outcome))
    if as_json:
        print(json.dumps({"built": [{"seed": g.seed, "fold": g.fold, "version_dir": str(o.version_dir),
                                     **o.metadata.to_json()} for g, o in built], "failed": failed}, indent=2))
    else:
        print_ensembles(out, [(g.title, o.metadata) for g, o in built])
    if failed:
        raise AtbError(f"{len(failed)} of {len(groups)} ensembles could not be built (see above)")
