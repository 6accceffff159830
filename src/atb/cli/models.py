"""`atb models list|show|compare` and `atb predict`: using what the registry holds."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from atb.cli import options as opt
from atb.cli.console import out, warn
from atb.training.request import TrainRequest

app = typer.Typer(help="Inspect and compare trained model versions.", no_args_is_help=True)


def _store(models_dir: Path | None):
    from atb.config import models_dir as default_dir
    from atb.registry.store import ModelStore

    return ModelStore(models_dir or default_dir())


@app.command("list")
def list_models(
    symbol: str | None = typer.Argument(None, help="Only this symbol."),
    models_dir: opt.ModelsDir = None,
    as_json: opt.Json = False,
) -> None:
    """List model versions with their headline test metrics."""
    from rich.table import Table

    from atb.errors import ModelError
    from atb.registry.store import read_metadata

    store = _store(models_dir)
    rows = []
    for sym in [symbol.upper()] if symbol else store.symbols():
        for ref in store.versions(sym):
            try:
                meta = read_metadata(ref.path)
            except ModelError as exc:
                rows.append({"symbol": sym, "version": ref.name, "latest": ref.is_latest, "error": str(exc)})
                continue
            tp, ev, perf = meta["training_params"], meta["evaluation_results"], meta["performance"]
            rows.append({
                "symbol": sym, "version": ref.name, "latest": ref.is_latest,
                "architecture": tp.get("architecture"), "variant": tp.get("architecture_variant"),
                "data": meta.get("data", {}).get("source"), "test_rmse": ev.get("test_rmse"),
                "naive_test_rmse": ev.get("naive_test_rmse"), "directional_accuracy": ev.get("directional_accuracy"),
                "training_time_s": perf.get("training_time_s"), "path": str(ref.path),
            })
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print(f"No model versions in {store.root}" + (f" for {symbol}" if symbol else ""))
        return
    table = Table(title=f"Model versions in {store.root}", title_justify="left")
    for col in ("symbol", "version", "arch (variant)", "data", "RMSE", "naive RMSE", "dir. acc. %", "fit s"):
        table.add_column(col, justify="left" if col in ("symbol", "version", "arch (variant)", "data") else "right")
    for r in rows:
        name = r["version"] + (" [green](latest)[/green]" if r["latest"] else "")
        if "error" in r:
            table.add_row(r["symbol"], name, f"[red]{r['error']}[/red]", "", "", "", "", "")
            continue
        table.add_row(r["symbol"], name, f"{r['architecture']} ({r['variant']})", str(r["data"]),
                      f"{r['test_rmse']:.4f}", f"{r['naive_test_rmse']:.4f}", f"{r['directional_accuracy']:.1f}",
                      f"{r['training_time_s']:.1f}")
    out.print(table)


@app.command("show")
def show(
    symbol: str = typer.Argument(..., help="Market symbol, e.g. BTCUSDT."),
    version: opt.Version = None,
    models_dir: opt.ModelsDir = None,
    as_json: opt.Json = False,
) -> None:
    """Show one version: its summary table, or its metadata as JSON."""
    from atb.cli.summary import training_summary
    from atb.registry.store import read_metadata

    path = _store(models_dir).resolve(symbol.upper(), version)
    meta = read_metadata(path)
    if as_json:
        print(json.dumps(meta, indent=2))
        return
    out.print(training_summary(meta))
    out.print(f"[dim]{path}[/dim]", highlight=False)


@app.command("compare")
def compare_cmd(
    symbol: str = typer.Argument(..., help="Market symbol, e.g. BTCUSDT."),
    versions: list[str] | None = typer.Option(None, "--version", "-v",
                                              help="Versions to compare (repeat); default: the newest of each "
                                                   "architecture and variant."),
    models_dir: opt.ModelsDir = None,
    as_json: opt.Json = False,
) -> None:
    """Compare versions on their shared test windows, with the naive row and DM tests vs the baseline."""
    from atb.cli.summary import comparison_lines, comparison_table, comparison_to_dict
    from atb.errors import ModelError
    from atb.evaluation.comparison import Entry, compare

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
    try:
        comparison = compare([Entry.from_version(p) for p in paths])
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    if as_json:
        print(json.dumps(comparison_to_dict(comparison), indent=2))
        return
    out.print(comparison_table(comparison, f"{symbol}: model comparison"))
    for line in comparison_lines(comparison):
        out.print(line, highlight=False)


def predict(
    symbol: str = typer.Argument(..., help="Market symbol, e.g. BTCUSDT."),
    version: opt.Version = None,
    models_dir: opt.ModelsDir = None,
    exchange: opt.Exchange = TrainRequest.exchange,
    data_file: opt.DataFile = None,
    data_source: str = typer.Option("cache", "--data-source", help="cache, file or synthetic."),
    as_json: opt.Json = False,
) -> None:
    """Forecast the next close of SYMBOL from the newest candles (ONNX Runtime only, no torch).

    Models of the synthetic market are under SYMBOL-SYNTHETIC and forecast only synthetic candles."""
    from rich.markup import escape

    from atb.inference.candles import SOURCES, newest_candles
    from atb.inference.predict import check_market, forecast_next
    from atb.registry.store import market_symbol, read_metadata

    symbol = symbol.upper()
    path = _store(models_dir).resolve(symbol, version)
    meta = read_metadata(path)
    tp = meta["training_params"]
    source = "file" if data_file else data_source
    if source in SOURCES:  # before loading, so that an empty cache is not reported as the problem
        check_market(meta, path.name, source == "synthetic")
    market = meta.get("symbol") or market_symbol(symbol)
    params = meta.get("data", {}).get("synthetic_params", {})  # the very synthetic market the model was fitted on
    candles = newest_candles(source, market, tp["timeframe"], int(tp["sequence_length"]) + 200,
                             exchange=exchange, data_file=data_file,
                             synthetic_seed=params.get("seed", TrainRequest.synthetic_seed),
                             synthetic_ar_coef=params.get("ar_coef", TrainRequest.synthetic_ar_coef))
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
        f"{symbol} {tp['timeframe']} · {tp['architecture']} ({tp['architecture_variant']}) {fc.version}{synthetic}\n"
        f"  last close  {fc.last_close:,.2f}  (candle {fc.last_candle:%Y-%m-%d %H:%M} UTC, {label})\n"
        f"  forecast    {fc.predicted_close:,.2f}  ({result['predicted_change_pct']:+.3f}%) "
        f"for the candle opening {fc.target_time:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )
