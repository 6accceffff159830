"""`atb ab report|promote`: champion against challenger on live forecasts, and moving the champion."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from atb.cli import options as opt
from atb.cli.console import out
from atb.config import models_dir as default_dir
from atb.errors import DataError, ModelError
from atb.training.request import TrainRequest

app = typer.Typer(help="A/B test of the served models: report on live forecasts, promote the challenger.",
                  no_args_is_help=True)


@app.command("report")
def report(
    symbol: str = typer.Argument(..., help="Registry symbol, e.g. BTCUSDT."),
    champion: str | None = typer.Option(None, "--champion", help="Champion version (default: the champion "
                                                                 "pointer)."),
    challenger: str | None = typer.Option(None, "--challenger", help="Challenger version (default: the newest one "
                                                                     "logged as challenger)."),
    data_file: opt.DataFile = None,
    exchange: opt.Exchange = TrainRequest.exchange,
    since: str | None = typer.Option(None, "--since", help="First target time (date or ISO time, UTC)."),
    until: str | None = typer.Option(None, "--until", help="Last target time (a bare date includes its day)."),
    min_n: int = typer.Option(100, "--min-n", min=2, help="Shared realised target times needed to decide."),
    grace: float | None = typer.Option(None, "--grace", help="Seconds after the target bar opened that a forecast "
                                                             "may still be logged (default: a tenth of a bar)."),
    models_dir: opt.ModelsDir = None,
    as_json: opt.Json = False,
    html: opt.Html = None,
) -> None:
    """Score the champion and the challenger on the same realised target times; end in promote, keep or not
    enough data (rule: one-sided DM p < 0.05, H1: the challenger's squared error is lower, n >= --min-n)."""
    # pandas, scipy and sqlalchemy: deferred for start-up time
    import pandas as pd

    from atb.data.timeparse import optional_time
    from atb.registry.store import ModelStore, market_symbol, read_metadata
    from atb.serving.ab_report import build_report
    from atb.tracking.served import read_rows

    opt.check_html_path(html)
    symbol = symbol.upper()
    store = ModelStore(models_dir or default_dir())
    first, last = optional_time(since, "--since"), optional_time(until, "--until", end=True)
    rows = pd.DataFrame(read_rows(symbol, since=first, until=last))
    if rows.empty:
        raise DataError(f"no forecasts of {symbol} in the prediction log; they are logged by 'atb serve' (requests, "
                        f"or --follow at every bar close)")
    for column in ("created_at", "last_time", "target_time"):
        rows[column] = pd.to_datetime(rows[column], utc=True)
    champion = champion or store.champion_name(symbol) or _newest(rows, "champion")
    challenger = challenger or _newest(rows[rows["version_id"] != champion], "challenger")
    if champion == challenger:
        raise DataError(f"the champion and the challenger are one version ({champion}); name another with "
                        "--challenger")
    metadata = {v: _metadata(store, symbol, v, read_metadata) for v in (champion, challenger) if v}
    timeframe, horizon = _timing(rows, champion, metadata.get(champion))
    candles = _candles(market_symbol(symbol), timeframe, data_file, exchange)
    result = build_report(symbol, rows, candles, champion=champion, challenger=challenger, timeframe=timeframe,
                          horizon=horizon, metadata=metadata, min_n=min_n,
                          grace=pd.Timedelta(seconds=grace) if grace is not None else None)
    if html is not None:
        from atb.reports.ab import write_ab_report  # plotly and jinja2: only when a report is asked for

        write_ab_report(html, result, synthetic=any(bool(m and m.synthetic) for m in metadata.values()),
                        facts={"candles": str(data_file) if data_file else f"cache ({exchange})",
                               "log_window": f"{since or 'start'} .. {until or 'now'}"})
    if as_json:
        print(json.dumps({**result.to_dict(), "html": str(html) if html else None}, indent=2))
        return
    _render(result)
    if html is not None:
        out.print(f"✓ report: {html}", highlight=False, markup=False, soft_wrap=True)


@app.command("promote")
def promote(
    symbol: str = typer.Argument(..., help="Registry symbol, e.g. BTCUSDT."),
    version: str = typer.Argument(..., help="The version to serve (a folder name, or latest)."),
    models_dir: opt.ModelsDir = None,
) -> None:
    """Point SYMBOL's champion at VERSION (atomically); running servers switch within about a second."""
    from atb.registry.store import ModelStore

    symbol = symbol.upper()
    store = ModelStore(models_dir or default_dir())
    previous = store.promote(symbol, version)
    now = store.champion_name(symbol)
    if previous == now:
        out.print(f"{symbol}: champion is already {now}", highlight=False, soft_wrap=True)
    else:
        out.print(f"{symbol}: champion {now} (replaces {previous or 'no champion'})", highlight=False, soft_wrap=True)


def _newest(rows: Any, role: str) -> str | None:
    """The version most recently logged in ``role``."""
    mine = rows[rows["role"] == role]
    return None if mine.empty else str(mine.sort_values("created_at", kind="stable")["version_id"].iloc[-1])


def _metadata(store: Any, symbol: str, version: str, read: Any) -> Any:
    try:
        return read(store.resolve(symbol, version))
    except ModelError:
        return None  # a version removed from the registry: still scored, its threshold is 0 (said so)


def _timing(rows: Any, champion: str | None, meta: Any) -> tuple[str, int]:
    """The champion's timeframe and horizon, from its metadata, else from its log rows."""
    if champion is None:
        raise DataError("no champion: the symbol has no champion pointer and the log no champion forecast; name "
                        "one with --champion")
    if meta is not None and meta.training_params.timeframe:
        return meta.training_params.timeframe, meta.training_params.bars_ahead
    mine = rows[(rows["version_id"] == champion) & rows["timeframe"].notna()]
    if mine.empty:
        raise DataError(f"the champion {champion} has no forecasts in the log and no metadata in the registry")
    from atb.data.timeframes import timeframe_delta

    timeframe = str(mine["timeframe"].iloc[-1])
    horizon = int(round((mine["target_time"].iloc[-1] - mine["last_time"].iloc[-1]) / timeframe_delta(timeframe)))
    return timeframe, max(1, horizon)


def _candles(market: str, timeframe: str, data_file: Any, exchange: str) -> Any:
    """The realised candles: a file, else the cache (which `atb serve --follow` and `atb data download` fill)."""
    if data_file:
        from atb.data.files import read_candle_file

        return read_candle_file(data_file, timeframe)
    from atb.data.cache import CacheKey, read_cache

    cached = read_cache(CacheKey(exchange.lower(), market, timeframe))
    if cached is None or cached.candles.empty:
        raise DataError(f"no cached {market} {timeframe} candles for {exchange} to score the forecasts on; run "
                        f"'atb data download {market} --timeframe {timeframe} --days 30' or pass --data-file")
    return cached.candles


def _render(result: Any) -> None:
    from atb.serving.ab_report import ROLE_HEADERS, detail_lines, report_title, role_cells  # loaded by build_report

    table = Table(title=report_title(result), title_justify="left")
    for i, header in enumerate(ROLE_HEADERS):
        table.add_column(header, justify="left" if i < 2 else "right")
    for role in result.roles:
        table.add_row(*role_cells(role))
    out.print(table)
    for line in detail_lines(result):
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    out.print(f"decision: [bold]{result.decision}[/bold]  (rule: {result.rule})", highlight=False, soft_wrap=True)
