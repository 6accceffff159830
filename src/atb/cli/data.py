"""`atb data ...`: download, import, list and show cached market candles.

Heavy modules (pandas, pyarrow, ccxt, rich.progress) are imported inside the commands so that `atb --help`
stays fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.table import Table

from atb.cli import options as opt
from atb.cli.console import out, warn
from atb.errors import DataError, UsageError
from atb.training.request import TrainRequest

if TYPE_CHECKING:
    import pandas as pd

    from atb.data.cache import Cached

app = typer.Typer(help="Market data: download from an exchange, import files, inspect the cache.",
                  no_args_is_help=True)

def _iso(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _table(title: str, **options: Any) -> Any:
    """A compact rich table: fits 80 columns where a boxed one would squeeze its cells."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1),
                 collapse_padding=True, pad_edge=False, **options)


def _short(iso: str | None) -> str:
    """``2017-08-17T04:00:00Z`` -> ``2017-08-17 04:00`` (tables; JSON keeps the full ISO form)."""
    return "-" if iso is None else iso[:16].replace("T", " ")


def _gap_summary(cached: Cached) -> dict[str, Any]:
    report = cached.gaps
    longest = report.longest
    return {
        "count": report.count,
        "missing": report.missing,
        "longest": None if longest is None else {
            "after": _iso(longest.after), "before": _iso(longest.before), "missing": longest.missing},
    }


def _summary(cached: Cached) -> dict[str, Any]:
    candles = cached.candles
    empty = candles.empty
    return {
        "exchange": cached.key.exchange,
        "symbol": cached.key.symbol,
        "timeframe": cached.key.timeframe,
        "first": None if empty else _iso(candles["open_time"].iloc[0]),
        "last": None if empty else _iso(candles["open_time"].iloc[-1]),
        "rows": len(candles),
        "gaps": _gap_summary(cached),
        "path": str(cached.path),
    }


def _print_summary(title: str, rows: list[tuple[str, str]]) -> None:
    table = _table(title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


def _gap_text(gaps: dict[str, Any]) -> str:
    if not gaps["count"]:
        return "no gaps"
    longest = gaps["longest"]
    return (f"{gaps['count']} gaps, {gaps['missing']} missing candles "
            f"(longest {longest['missing']} after {longest['after']})")


@app.command("download")
def download(
    symbol: str = typer.Argument(..., help="Market, e.g. BTCUSDT or BTC/USDT."),
    timeframe: opt.Timeframe = TrainRequest.timeframe,
    days: int | None = typer.Option(None, "--days", "-d", help="Download the last N days (up to --end)."),
    start: str | None = typer.Option(None, "--start", help="First day or time (UTC, ISO), instead of --days."),
    end: str | None = typer.Option(None, "--end", help="Last day (included) or time; default: now."),
    exchange: opt.Exchange = TrainRequest.exchange,
    as_json: opt.Json = False,
) -> None:
    """Download candles into the local cache; only what the cache lacks is fetched."""
    import pandas as pd

    from atb.cli.progress import DownloadBar
    from atb.data.candles import floor_time, last_closed_open_time
    from atb.data.exchange import download_candles
    from atb.data.timeframes import timeframe_delta
    from atb.data.timeparse import parse_time

    step = timeframe_delta(timeframe)
    if (days is None) == (start is None):
        raise UsageError("give either --days N or --start DATE (not both)")
    until = parse_time(end, "--end", end=True) if end else pd.Timestamp.now(tz="UTC")
    if days is not None:
        if days < 1:
            raise UsageError(f"--days must be at least 1, got {days}")
        last = min(floor_time(until, timeframe), last_closed_open_time(timeframe))
        begin = last - pd.Timedelta(days=days) + step
    else:
        begin = parse_time(start, "--start")
        if begin > until:
            raise UsageError(f"--start {start} is after --end {end}")
    began = time.perf_counter()
    with DownloadBar(f"{exchange} {symbol} {timeframe}") as bar:
        result = download_candles(exchange, symbol, timeframe, begin, until, progress=bar)
    elapsed = time.perf_counter() - began
    candles = result.candles
    gaps = _gap_summary(_range_view(result.cached, candles))
    fetched = (f"{result.fetched:,} candles fetched in {result.requests} requests"
               if result.requests else "all from the cache (no network request)")
    if as_json:
        print(json.dumps({**_summary(_range_view(result.cached, candles)), "candles": len(candles),
                          "fetched": result.fetched, "requests": result.requests, "seconds": elapsed,
                          "source": candles.attrs.get("source")}, indent=2))
        return
    _print_summary(f"{result.cached.key.label()}", [
        ("candles", f"{len(candles):,}"),
        ("first", _iso(candles["open_time"].iloc[0])),
        ("last", _iso(candles["open_time"].iloc[-1])),
        ("gaps", _gap_text(gaps)),
        ("download", f"{fetched}, {elapsed:.1f} s"),
        ("cache", str(result.cached.path)),
    ])


def _range_view(cached: Cached, candles: pd.DataFrame) -> Cached:
    from atb.data.cache import Cached

    return Cached(cached.key, cached.path, candles, cached.coverage, cached.imported_from)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="Candle file: .csv (ours or Binance klines), .feather or .json."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Market the file holds, e.g. BTCUSDT."),
    timeframe: opt.Timeframe = ...,
    exchange: opt.Exchange = TrainRequest.exchange,
    as_json: opt.Json = False,
) -> None:
    """Validate a candle file and merge it into the cache (for offline work)."""
    from atb.data.cache import CacheKey, merge_into_cache
    from atb.data.exchange import check_exchange_id
    from atb.data.files import read_candle_file
    from atb.data.symbols import normalize_symbol
    from atb.data.timeframes import timeframe_delta

    timeframe_delta(timeframe)
    key = CacheKey(check_exchange_id(exchange), normalize_symbol(symbol), timeframe)
    began = time.perf_counter()
    candles = read_candle_file(file, timeframe)
    cached = merge_into_cache(key, candles, [], imported_from=Path(file).name)
    elapsed = time.perf_counter() - began
    if as_json:
        print(json.dumps({**_summary(_range_view(cached, candles)), "file": str(file),
                          "cached_rows": len(cached.candles), "seconds": elapsed}, indent=2))
        return
    gaps = _gap_summary(_range_view(cached, candles))
    _print_summary(f"imported {file} as {key.label()}", [
        ("rows", f"{len(candles):,}"),
        ("first", _iso(candles["open_time"].iloc[0])),
        ("last", _iso(candles["open_time"].iloc[-1])),
        ("gaps", _gap_text(gaps)),
        ("cache", f"{cached.path} ({len(cached.candles):,} candles in all)"),
        ("time", f"{elapsed:.2f} s"),
    ])


@app.command("list")
def list_(
    as_json: opt.Json = False,
) -> None:
    """List the cached markets: exchange, symbol, timeframe, first, last, rows, gaps."""
    from atb.data.cache import cached_keys, inspect_cache_file

    entries = []
    for key, path in cached_keys():
        try:
            entries.append(_summary(inspect_cache_file(key, path)))
        except DataError as exc:
            warn(str(exc))
    if as_json:
        print(json.dumps(entries, indent=2))
        return
    if not entries:
        out.print("the cache is empty: try `atb data download BTCUSDT --days 30` or `atb data import FILE`")
        return
    table = _table("cached candles (UTC open times)")
    for name in ("exchange", "symbol", "tf", "first", "last", "rows", "gaps", "missing"):
        table.add_column(name, justify="right" if name in ("rows", "gaps", "missing") else "left",
                         no_wrap=True)
    for e in entries:
        table.add_row(e["exchange"], e["symbol"], e["timeframe"], _short(e["first"]), _short(e["last"]),
                      f"{e['rows']:,}", str(e["gaps"]["count"]), str(e["gaps"]["missing"]))
    out.print(table)


@app.command("show")
def show(
    symbol: str = typer.Argument(..., help="Market, e.g. BTCUSDT."),
    timeframe: opt.Timeframe = TrainRequest.timeframe,
    exchange: opt.Exchange = TrainRequest.exchange,
    as_json: opt.Json = False,
) -> None:
    """Summarise one cached market and list every gap in it."""
    from atb.data.cache import CacheKey, cache_path, read_cache
    from atb.data.exchange import check_exchange_id
    from atb.data.symbols import normalize_symbol
    from atb.data.timeframes import timeframe_delta

    timeframe_delta(timeframe)
    key = CacheKey(check_exchange_id(exchange), normalize_symbol(symbol), timeframe)
    cached = read_cache(key)
    if cached is None:
        raise DataError(f"nothing cached for {key.label()} ({cache_path(key)}); "
                        f"run `atb data download {key.symbol} -t {timeframe}` or `atb data import FILE`")
    info = _summary(cached)
    gap_list = [{"after": _iso(g.after), "before": _iso(g.before), "missing": g.missing}
                for g in cached.gaps.gaps]
    info["coverage"] = [[_iso(a), _iso(b)] for a, b in cached.coverage]
    info["gap_list"] = gap_list
    if as_json:
        print(json.dumps(info, indent=2))
        return
    _print_summary(key.label(), [
        ("rows", f"{info['rows']:,}"),
        ("first", info["first"] or "-"),
        ("last", info["last"] or "-"),
        ("gaps", _gap_text(info["gaps"])),
        ("covered", ", ".join(f"{a} .. {b}" for a, b in info["coverage"]) or "-"),
        ("cache", info["path"]),
    ])
    if gap_list:
        table = _table("gaps (missing candles between two open times)")
        for name in ("#", "after", "before", "missing"):
            table.add_column(name, justify="right" if name in ("#", "missing") else "left")
        for i, g in enumerate(gap_list, 1):
            table.add_row(str(i), g["after"], g["before"], str(g["missing"]))
        out.print(table)


@app.command("resample")
def resample(
    symbol: str = typer.Argument(..., help="Market, e.g. BTCUSDT."),
    source: str = typer.Option("1h", "--from", help="The cached shorter timeframe to build from."),
    target: str = typer.Option("4h", "--to", help="The longer timeframe to write (a whole multiple of --from)."),
    exchange: opt.Exchange = TrainRequest.exchange,
    as_json: opt.Json = False,
) -> None:
    """Build longer candles from complete shorter ones in the cache (a 4h bar with a missing hour is a gap)."""
    from atb.data.cache import CacheKey, cache_path, merge_into_cache, read_cache
    from atb.data.exchange import check_exchange_id
    from atb.data.resample import check_pair, covered_spans, resample_candles
    from atb.data.symbols import normalize_symbol

    check_pair(source, target)
    exchange_id, market = check_exchange_id(exchange), normalize_symbol(symbol)
    key = CacheKey(exchange_id, market, source)
    cached = read_cache(key)
    if cached is None or cached.candles.empty:
        raise DataError(f"nothing cached for {key.label()} ({cache_path(key)}); "
                        f"run `atb data download {market} -t {source}` or `atb data import FILE`")
    began = time.perf_counter()
    result = resample_candles(cached.candles, source, target)
    written = merge_into_cache(CacheKey(exchange_id, market, target), result.candles,
                               covered_spans(cached.coverage, source, target))
    elapsed = time.perf_counter() - began
    view = _range_view(written, result.candles)
    info = {**_summary(view), "from": source, "to": target, "source_rows": len(cached.candles),
            "bars": len(result.candles), "dropped_partial_bars": result.dropped, "seconds": elapsed}
    if as_json:
        print(json.dumps(info, indent=2))
        return
    _print_summary(f"resampled {key.label()} -> {target}", [
        ("bars", f"{len(result.candles):,} complete {target} bars from {len(cached.candles):,} {source} candles"),
        ("dropped", f"{result.dropped} partial {target} bars (a {source} candle missing: left as a gap)"),
        ("first", info["first"] or "-"),
        ("last", info["last"] or "-"),
        ("gaps", _gap_text(info["gaps"])),
        ("cache", str(written.path)),
    ])
