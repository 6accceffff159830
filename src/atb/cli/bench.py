"""`atb bench phase1`: the guide's Phase-1 benchmark (also `python scripts/phase1_benchmark.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from atb.cli import options as opt
from atb.cli.app import run_app
from atb.cli.console import err, out
from atb.cli.tables import Col, print_table
from atb.features.sets import ABLATION_SETS
from atb.jsonio import dumps
from atb.training.request import TrainRequest

CpusPerRun = Annotated[float | None, typer.Option("--cpus-per-run", help="With --ray: CPUs each run's task asks "
                                                                     "for (default 1; also its torch threads).")]
GpusPerRun = Annotated[float | None, typer.Option("--gpus-per-run", help="With --ray: GPUs each run's task asks for "
                                                                     "(default 0).")]

app = typer.Typer(help="Benchmark the architectures against each other and against naive persistence.",
                  no_args_is_help=True)


def phase1(
    quick: bool = typer.Option(False, "--quick", help="Phase 1A smoke test: 7 days, 5 epochs, 1 seed."),
    full: bool = typer.Option(False, "--full", help="Phase 1B: 30 days, 20 epochs, 3 seeds."),
    symbol: str = typer.Option("BTCUSDT", "--symbol", help="Market symbol."),
    days: opt.Days = None,
    epochs: opt.Epochs = None,
    models: opt.Models = None,
    seeds: int | None = typer.Option(None, "--seeds", help=f"Seeds per model: {TrainRequest.seed}, "
                                                           f"{TrainRequest.seed + 1}, ... (default 3 full, 1 quick)."),
    walk_forward: int = typer.Option(1, "--walk-forward",
                                     help="K folds: consecutive, disjoint test intervals (each one test split of "
                                          "--days long), the newest ending at the last candle; retrained each."),
    end_date: opt.EndDate = None,
    data_source: opt.DataSource = None,
    data_file: opt.DataFile = None,
    models_dir: opt.ModelsDir = None,
    output_dir: Path = typer.Option(Path("artifacts"), "--output-dir", help="Where the report files go."),
    device: opt.Device = TrainRequest.device,
    timeframe: opt.Timeframe = TrainRequest.timeframe,
    threads: opt.Threads = None,
    features: opt.Features = TrainRequest.features,
    ablation: bool = typer.Option(False, "--ablation",
                                  help="Feature ablation: train every model on each of --feature-sets (same seeds "
                                       "and folds) and test whether the richer sets forecast better; writes "
                                       "ablation_results.json and ablation_report.md."),
    feature_sets: str | None = typer.Option(None, "--feature-sets",
                                            help="With --ablation: comma list of feature sets (default "
                                                 f"{','.join(ABLATION_SETS)})."),
    ensemble: bool = typer.Option(False, "--ensemble", help="Also stack each seed and fold's models into an "
                                                          "ensemble (nnls, fitted on validation) and test it "
                                                          "against the best single model."),
    no_db: opt.NoDb = False,
    as_json: opt.Json = False,
    doctor: bool = typer.Option(False, "--doctor", help="Also run `atb doctor --quick` on the same candles and "
                                                        "models (a few minutes) and include its checklist in the "
                                                        "report: is a negative result the market or a bug?"),
    workers: opt.Workers = 1,
    ray: opt.Ray = None,
    cpus_per_run: CpusPerRun = None,
    gpus_per_run: GpusPerRun = None,
) -> None:
    """Train every architecture (x seeds x folds), compare them with the naive forecast and the baseline
    architecture, apply the guide's decision matrix, and write phase1_results.json, phase1_report.md and
    phase1_comparison.png. With --ablation: answer "are the technical indicators helping?" instead."""
    # Deferred: the benchmark pulls in pandas and torch, and rich.progress; not for `atb --help`.
    from atb.benchmark.phase1 import RunsFailed, run_phase1
    from atb.benchmark.plan import make_plan
    from atb.benchmark.settings import make_settings
    from atb.cli.progress import RichObserver

    settings = make_settings(
        quick=quick, full=full, symbol=symbol, days=days, epochs=epochs, models=models, seeds=seeds,
        walk_forward=walk_forward, end_date=end_date, data_source=data_source, data_file=data_file,
        models_dir=models_dir, output_dir=output_dir, device=device, timeframe=timeframe, log_to_db=not no_db,
        threads=threads, features=features, ablation=ablation, feature_sets=feature_sets,
        ensemble=ensemble,
        doctor=doctor, workers=workers, ray=ray, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run,
    )
    runs = len(make_plan(settings, None))
    kind = "quick validation — SMOKE TEST, not evidence for a decision" if settings.smoke_test else "full benchmark"
    what = "Feature ablation" if ablation else "Phase 1"
    err.print(f"[bold]{what} {kind}[/bold]: {settings.symbol} {settings.timeframe}, {settings.days:g} days, "
              f"{settings.epochs} epochs, {runs} runs ({', '.join(map(str, settings.models))} x seeds "
              f"{', '.join(map(str, settings.seed_list))}"
              + (f" x feature sets {', '.join(settings.feature_sets)}" if ablation else "")
              + (f" x {settings.walk_forward} folds" if settings.walk_forward > 1 else "")
              + (" + an ensemble per seed and fold" if settings.ensemble else "")
              + f"); features: {settings.features if not ablation else 'per set'}; data: {settings.data_source}"
              + _where(settings), highlight=False, soft_wrap=True)
    if ablation:
        from atb.benchmark.ablation import run_ablation  # pandas and torch: deferred like the rest

        result = run_ablation(settings, RichObserver())
    else:
        result = run_phase1(settings, RichObserver())
    if as_json:
        print(dumps(result.results))  # what the results file holds; plain print: `| jq` must work
    elif ablation:
        _print_ablation(result)
    else:
        _print_result(result)
    if result.failed:
        raise RunsFailed(f"{len(result.failed)} of {result.results['counts']['runs']} runs failed "
                         f"(see {result.files['results']})")


app.command("phase1")(phase1)


def _where(settings) -> str:
    """`; 2 workers x 1 thread` / `; Ray 127.0.0.1:6379, 1 CPU per run` (nothing for the serial default)."""
    from atb.benchmark.executors import threads_per_worker  # cheap once the benchmark is loaded

    if settings.ray_address:
        return (f"; Ray {settings.ray_address}, {settings.cpus_per_run or 1:g} CPU"
                + (f" + {settings.gpus_per_run:g} GPU" if settings.gpus_per_run else "") + " per run")
    if settings.workers > 1:
        threads = threads_per_worker(settings)
        return f"; {settings.workers} workers x {threads} thread{'s' if threads > 1 else ''}"
    return ""


def _print_ablation(result) -> None:
    from atb.benchmark.ablation_report import QUESTION, TEST_COLUMNS, answer_lines, test_cells  # pandas: deferred

    if result.tests:
        text = ("model", "richer vs poorer", "verdict")
        print_table(out, [Col(c, "left", wrap=True) if c in text else Col(c) for c in TEST_COLUMNS],
                    [test_cells(t) for t in result.tests], key=2,
                    title="Feature sets per architecture: richer vs poorer (pooled over seeds and windows)")
    out.print(QUESTION, highlight=False, markup=False)
    for line in (answer_lines(result.headlines, result.results["too_small"])
                 or ["nothing to test: no architecture has two nested feature sets"]):
        out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    for name, path in result.files.items():
        out.print(f"[dim]{name}:[/dim] {path}", highlight=False, soft_wrap=True)


def _print_result(result) -> None:
    from atb.benchmark.report import COLUMNS, FOLD_COLUMNS, fold_cells, summary_cells, title  # pandas: deferred

    results = result.results
    heading = title(results["settings"], results["data"]["synthetic"])
    if result.summary is not None:
        s = result.summary
        seeds = f"mean ± std across {len(s.seeds)} seeds" if len(s.seeds) > 1 else f"seed {s.seeds[0]}"
        print_table(out, [Col(c, "left", wrap=True) if c == "model" else Col(c) for c in COLUMNS], summary_cells(s),
                    title=f"{heading} · {s.windows} test windows {s.start} .. {s.end} · {seeds}",
                    row_styles=["dim" if row.is_naive else None for row in s.rows])
    if results.get("folds"):
        print_table(out, [Col(c) if c == "fold" else Col(c, "left", wrap=True) for c in FOLD_COLUMNS],
                    fold_cells(results["folds"]), title="Folds: target times (UTC) and windows of each split")
    if result.decision is not None:
        for line in result.decision.lines():
            out.print(line, highlight=False, markup=False, soft_wrap=True)
    if results.get("doctor"):
        from atb.cli.doctor import render

        out.print("")
        render(result.doctor)
    for name, path in result.files.items():
        out.print(f"[dim]{name}:[/dim] {path}", highlight=False, soft_wrap=True)
    if result.benchmark_id is not None:
        out.print(f"[dim]run log:[/dim] benchmark #{result.benchmark_id}", highlight=False)


def run_script(argv: list[str] | None = None, prog_name: str = "phase1_benchmark.py") -> None:
    """The script's entry point: the phase1 command alone, with the CLI's one-line errors."""
    script = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                         context_settings={"help_option_names": ["-h", "--help"]})
    script.command()(phase1)
    run_app(script, argv, prog_name)


@app.command("grid")
def grid(
    symbols: str = typer.Option(..., "--symbols", help="Comma list of markets, e.g. BTCUSDT,ETHUSDT,SOLUSDT."),
    timeframes: str = typer.Option("1h", "--timeframes", help="Comma list of timeframes, e.g. 1h,4h (a longer one "
                                                              "is built from complete bars of a shorter file)."),
    quick: bool = typer.Option(False, "--quick", help="Phase 1A smoke test per market: 7 days, 5 epochs, 1 seed."),
    full: bool = typer.Option(False, "--full", help="Phase 1B per market: 30 days, 20 epochs, 3 seeds."),
    days: opt.Days = None,
    epochs: opt.Epochs = None,
    models: opt.Models = None,
    seeds: int | None = typer.Option(None, "--seeds", help="Seeds per model (default 3 full, 1 quick)."),
    walk_forward: int = typer.Option(1, "--walk-forward", help="K walk-forward folds per market."),
    end_date: opt.EndDate = None,
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder of candle files named like "
                                                                  "<SYMBOL>_<tf>_*.csv (default: the candle cache, "
                                                                  "else the exchange)."),
    exchange: opt.Exchange = TrainRequest.exchange,
    models_dir: opt.ModelsDir = None,
    output_dir: Path = typer.Option(Path("artifacts/grid"), "--output-dir",
                                    help="grid_results.json, grid_report.md and one folder per market."),
    device: opt.Device = TrainRequest.device,
    threads: opt.Threads = None,
    no_db: opt.NoDb = False,
    as_json: opt.Json = False,
    workers: opt.Workers = 1,
    ray: opt.Ray = None,
    cpus_per_run: CpusPerRun = None,
    gpus_per_run: GpusPerRun = None,
) -> None:
    """Run the Phase-1 benchmark on every market of SYMBOLS x TIMEFRAMES and write one report with a row per
    market x architecture (RMSE, skill vs naive, DM and PT p-values, Sharpe vs buy-and-hold, decision per market)."""
    from atb.benchmark.grid import COLUMNS, cells, parse_markets, plan_grid, run_grid  # pandas: deferred
    from atb.benchmark.phase1 import RunsFailed
    from atb.benchmark.plan import make_plan
    from atb.cli.progress import RichObserver

    markets = parse_markets(symbols, timeframes)
    planned = plan_grid(markets, output_dir, data_dir, exchange, quick=quick, full=full, days=days, epochs=epochs,
                        models=models, seeds=seeds, walk_forward=walk_forward, end_date=end_date,
                        models_dir=models_dir, device=device, threads=threads, log_to_db=not no_db, workers=workers,
                        ray=ray, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run)
    first = planned[0][1]
    runs = sum(len(make_plan(s, None)) for _, s in planned)
    kind = "quick validation — SMOKE TEST" if first.smoke_test else "full benchmark"
    err.print(f"[bold]Grid {kind}[/bold]: {len(planned)} markets ({', '.join(d.market.name for d, _ in planned)}), "
              f"{runs} runs in all; {first.days:g} days, {first.epochs} epochs per run" + _where(first),
              highlight=False, soft_wrap=True)
    for data, _ in planned:
        if data.resampled_from:
            err.print(f"[dim]{data.market.name}: built from complete {data.resampled_from} bars of {data.origin} "
                      f"({data.dropped_partial_bars} partial bars dropped as gaps)[/dim]", highlight=False,
                      soft_wrap=True)

    def market_started(market, i: int, total: int) -> None:
        err.print(f"[bold cyan]market {i}/{total}: {market.name}[/bold cyan]", highlight=False)

    result = run_grid(planned, output_dir, RichObserver(), market_started)
    if as_json:
        print(dumps(result.results))
    else:
        rows = result.results["rows"]
        if rows:
            print_table(out, [Col(c, "left", wrap=True) if c in ("market", "model") else Col(c) for c in COLUMNS],
                        [cells(r) for r in rows], title="Grid: each market's Phase-1 benchmark (test split)")
        for m in result.results["markets"]:
            out.print(f"{m['symbol']} {m['timeframe']}: {m.get('decision') or m.get('error') or m['status']}",
                      highlight=False, markup=False, soft_wrap=True)
        for name, path in result.files.items():
            out.print(f"[dim]{name}:[/dim] {path}", highlight=False, soft_wrap=True)
    problems = []
    if result.failed_runs:
        problems.append(f"{result.failed_runs} runs failed")
    if result.failed_markets:
        problems.append(f"{len(result.failed_markets)} markets could not run")
    if problems:
        raise RunsFailed(f"{' and '.join(problems)} (see {result.files['results']})")
