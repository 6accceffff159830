"""`atb models list|show|compare` and `atb predict`: using what the registry holds."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from atb.cli import options as opt
from atb.cli.console import out, warn
from atb.cli.summary import comparison_lines, print_comparison, print_training_summary
from atb.cli.tables import Col, print_table
from atb.config import models_dir as default_dir
from atb.data.sources import source_kind
from atb.errors import ModelError
from atb.evaluation.metric_table import METRIC
from atb.registry.metadata import SyntheticParams
from atb.registry.store import ModelStore, market_symbol, read_metadata
from atb.training.request import TrainRequest

app = typer.Typer(help="Inspect and compare trained model versions.", no_args_is_help=True)

LIST_METRICS = ("test_rmse", "naive_test_rmse", "directional_accuracy", "training_time_s")  # `atb models list`


def _store(models_dir: Path | None) -> ModelStore:
    return ModelStore(models_dir or default_dir())


@app.command("list")
def list_models(
    symbol: str | None = typer.Argument(None, help="Only this symbol."),
    models_dir: opt.ModelsDir = None,
    as_json: opt.Json = False,
) -> None:
    """List model versions with their headline test metrics."""
    store = _store(models_dir)
    rows = []
    for sym in [symbol.upper()] if symbol else store.symbols():
        for ref in store.versions(sym):
            try:
                meta = read_metadata(ref.path)
            except ModelError as exc:
                rows.append({"symbol": sym, "version": ref.name, "latest": ref.is_latest, "error": str(exc)})
                continue
            tp = meta.training_params
            rows.append({
                "symbol": sym, "version": ref.name, "latest": ref.is_latest,
                "architecture": tp.architecture, "variant": tp.architecture_variant, "data": meta.data.source,
                **{key: meta.metric(key) for key in LIST_METRICS}, "path": str(ref.path),
            })
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print(f"No model versions in {store.root}" + (f" for {symbol}" if symbol else ""))
        return
    cols = [Col("version", "left"), Col("latest", "left"), Col("data", "left"),
            *[Col(METRIC[key].header) for key in LIST_METRICS]]
    for sym in dict.fromkeys(r["symbol"] for r in rows):  # one table per symbol: the version id stays whole
        table_rows = []
        for r in (r for r in rows if r["symbol"] == sym):
            if "error" in r:
                table_rows.append([r["version"], "yes" if r["latest"] else "", f"damaged: {r['error']}",
                                   *[""] * len(LIST_METRICS)])
                continue
            table_rows.append([r["version"], "yes" if r["latest"] else "", source_kind(r["data"]),
                               *[METRIC[key].format(r[key]) for key in LIST_METRICS]])
        print_table(out, cols, table_rows, title=f"{sym}: model versions in {store.root}")


@app.command("show")
def show(
    symbol: str = typer.Argument(..., help="Market symbol, e.g. BTCUSDT."),
    version: opt.Version = None,
    models_dir: opt.ModelsDir = None,
    as_json: opt.Json = False,
) -> None:
    """Show one version: its summary table, or its metadata as JSON."""
    path = _store(models_dir).resolve(symbol.upper(), version)
    meta = read_metadata(path)
    if as_json:
        print(json.dumps(meta.to_json(), indent=2))
        return
    print_training_summary(out, meta)
    out.print(f"[dim]{path}[/dim]", highlight=False)


@app.command("compare")
def compare_cmd(
    symbol: str = typer.Argument(..., help="Market symbol, e.g. BTCUSDT."),
    versions: list[str] | None = typer.Option(None, "--version", "-v",
                                              help="Versions to compare (repeat); default: the newest of each "
                                                   "architecture and variant."),
    models_dir: opt.ModelsDir = None,
    as_json: opt.Json = False,
    html: opt.Html = None,
) -> None:
    """Compare versions on their shared test windows, with the naive row and DM tests vs the baseline."""
    from atb.evaluation.comparison import Entry, compare  # pandas and scipy: deferred for start-up time

    opt.check_html_path(html)

    store = _store(models_dir)
    symbol = symbol.upper()
    if versions:
        paths = [store.resolve(symbol, v) for v in versions]
    else:
        readable = []
        for ref in store.versions(symbol):  # sorted by name, i.e. by creation time
            try:
                readable.append((ref.path, Entry.from_version(ref.path)))
            except (ModelError, OSError, ValueError):
                continue
        # Only versions scored like the newest one (timeframe, horizon) can be compared; name others with -v.
        like = (readable[-1][1].timeframe, readable[-1][1].horizon) if readable else None
        newest: dict[tuple[str, str], Path] = {}
        skipped = 0
        for path, entry in readable:
            if (entry.timeframe, entry.horizon) == like:
                newest[(entry.architecture, entry.variant)] = path
            else:
                skipped += 1
        paths = list(newest.values())
        if skipped:
            warn(f"left out {skipped} version(s) with another timeframe or horizon than the newest "
                 f"({like[0]}, horizon {like[1]}); name versions with --version to choose")
    if not paths:
        raise ModelError(store.no_model_message(symbol))
    entries = [Entry.from_version(p) for p in paths]
    try:
        comparison = compare(entries)
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    if html is not None:
        from atb.reports.compare import write_compare_report  # plotly and jinja2: only when a report is asked for

        write_compare_report(html, comparison, entries, title=f"{symbol}: model comparison",
                             lines=comparison_lines(comparison))
    if as_json:
        print(json.dumps(comparison.to_dict(), indent=2))
        return
    print_comparison(out, comparison, f"{symbol}: model comparison")
    for line in comparison_lines(comparison):
        out.print(line, highlight=False, markup=False)  # plain text: "[collapsed]" is no markup
    if html is not None:
        out.print(f"✓ report: {html}", highlight=False, markup=False)


def predict(
    symbol: str = typer.Argument(..., help="Market symbol, e.g. BTCUSDT."),
    version: opt.Version = None,
    models_dir: opt.ModelsDir = None,
    exchange: opt.Exchange = TrainRequest.exchange,
    data_file: opt.DataFile = None,
    data_source: str = typer.Option("cache", "--data-source", help="cache, file or synthetic."),
    start: str | None = typer.Option(None, "--start", help="Batch: the first target time to forecast (date or ISO "
                                                           "time, UTC)."),
    end: str | None = typer.Option(None, "--end", help="Batch: the last target time (a bare date includes its day; "
                                                       "default: the bar after the newest candle)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Batch: write the forecasts to this parquet "
                                                                   "file."),
    as_json: opt.Json = False,
) -> None:
    """Forecast the next close of SYMBOL from the newest candles (ONNX Runtime only, no torch); with --start,
    every bar of a range in ONNX batches (target_time, last_close, predicted_close, actual_close).

    Models of the synthetic market are under SYMBOL-SYNTHETIC and forecast only synthetic candles."""
    # pandas (and onnxruntime, on use): deferred for start-up time
    from atb.inference.candles import SOURCES, newest_candles
    from atb.inference.forecaster import FEATURE_MEMORY_BARS
    from atb.inference.predict import check_market, forecast_next

    symbol = symbol.upper()
    path = _store(models_dir).resolve(symbol, version)
    meta = read_metadata(path)
    tp = meta.training_params
    source = "file" if data_file else data_source
    if source in SOURCES:  # before loading, so that an empty cache is not reported as the problem
        check_market(meta, path.name, source == "synthetic")
    market = meta.symbol or market_symbol(symbol)
    # The very synthetic market the model was fitted on (versions before the key: the default market).
    fitted_on = meta.data.synthetic_params or SyntheticParams(seed=TrainRequest.synthetic_seed,
                                                              ar_coef=TrainRequest.synthetic_ar_coef)
    where = dict(exchange=exchange, data_file=data_file, synthetic_seed=fitted_on.seed,
                 synthetic_ar_coef=fitted_on.ar_coef)
    if start is not None or end is not None or output is not None:
        _predict_range(symbol, path, source, market, start, end, output, as_json, where)
        return
    candles = newest_candles(source, market, tp.timeframe, int(tp.sequence_length) + FEATURE_MEMORY_BARS, **where)
    fc = forecast_next(path, candles)
    for line in fc.warnings:
        warn(escape(line))
    label = candles.attrs.get("source", source)
    result = {
        "symbol": symbol, "version": fc.version, "data": label, "last_candle": fc.last_candle.isoformat(),
        "last_close": fc.last_close, "target_time": fc.target_time.isoformat(),
        "predicted_close": fc.predicted_close, "predicted_change_pct": 100 * (fc.predicted_close / fc.last_close - 1),
        "warnings": list(fc.warnings),
    }
    if as_json:
        print(json.dumps(result, indent=2))
        return
    synthetic = " [bold yellow](SYNTHETIC market)[/bold yellow]" if label == "synthetic" else ""
    out.print(
        f"{symbol} {tp.timeframe} · {tp.label} {fc.version}{synthetic}\n"
        f"  last close  {fc.last_close:,.2f}  (candle {fc.last_candle:%Y-%m-%d %H:%M} UTC, {label})\n"
        f"  forecast    {fc.predicted_close:,.2f}  ({result['predicted_change_pct']:+.3f}%) "
        f"for the candle opening {fc.target_time:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )


def _predict_range(symbol: str, path: Path, source: str, market: str, start: str | None, end: str | None,
                   output: Path | None, as_json: bool, where: dict) -> None:
    """`atb predict SYMBOL --start D [--end D] [--output FILE.parquet]`."""
    import pandas as pd

    from atb.data.timeparse import optional_time, parse_time
    from atb.errors import UsageError
    from atb.inference.batch import batch_forecasts, write_parquet
    from atb.inference.candles import candles_between
    from atb.inference.forecaster import OnnxForecaster

    if start is None:
        raise UsageError("batch predictions need --start (the first target time), with --end and --output optional")
    first = parse_time(start, "--start")
    model = OnnxForecaster.load(path)
    step = pd.Timedelta(model.step_ns, unit="ns")
    last = optional_time(end, "--end", end=True)
    ahead = model.horizon * step  # a target's window ends this long before it
    candles = candles_between(source, market, model.timeframe, first - ahead, last, model.history_bars, **where)
    if candles.empty:
        raise UsageError(f"the {source} candles hold nothing before {first:%Y-%m-%d %H:%M} UTC to forecast from")
    last = last if last is not None else candles["open_time"].iloc[-1] + ahead
    result = batch_forecasts(model, candles, first, last)
    frame = result.frame
    if output is not None:
        write_parquet(frame, output)
    known = frame["actual_close"].notna()
    summary = {
        "symbol": symbol, "version": result.version, "data": candles.attrs.get("source", source),
        "first_target": frame["target_time"].iloc[0].isoformat(),
        "last_target": frame["target_time"].iloc[-1].isoformat(),
        "forecasts": len(frame), "with_actual_close": int(known.sum()), "skipped_incomplete_windows": result.skipped,
        "output": str(output) if output is not None else None,
    }
    if as_json:
        rows = frame.assign(target_time=frame["target_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        rows = rows.astype(object).where(rows.notna(), None)
        print(json.dumps({**summary, "rows": rows.to_dict(orient="records") if output is None else None}, indent=2))
        return
    out.print(f"{symbol} · {result.version} · {len(frame):,} forecasts for target times "
              f"{summary['first_target'][:16]} .. {summary['last_target'][:16]} UTC ({summary['data']}); "
              f"{summary['with_actual_close']:,} with an actual close, {result.skipped:,} skipped "
              "(no complete window: a gap before them)", highlight=False, soft_wrap=True)
    if output is not None:
        out.print(f"✓ wrote {output}", highlight=False, soft_wrap=True)
        return
    shown = frame.tail(20)
    print_table(out, [Col("target_time", "left"), Col("last_close"), Col("predicted_close"), Col("actual_close")],
                [[f"{row.target_time:%Y-%m-%d %H:%M}", f"{row.last_close:,.2f}", f"{row.predicted_close:,.2f}",
                  "—" if row.actual_close != row.actual_close else f"{row.actual_close:,.2f}"]
                 for row in shown.itertuples(index=False)])
    if len(frame) > len(shown):
        out.print(f"(the last {len(shown)} of {len(frame):,}; --output FILE.parquet writes all, --json prints all)",
                  highlight=False)
