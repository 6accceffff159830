"""`atb bench grid`: the Phase-1 protocol on every market of a grid (symbols x timeframes), one report for all.

Each market's candles come from `--data-dir DIR` (files named like `<SYMBOL>_<tf>_*.csv`, the shared data's
layout) or from the candle cache; a timeframe with no file of its own is built from complete bars of a shorter
one (data.resample: a 4h bar with a missing hour is a gap, never a partial bar). Every market runs the whole
phase-1 benchmark (benchmark.phase1, its files in `<output_dir>/<SYMBOL>_<tf>/`, through the same executor:
--workers / --ray), and grid_results.json + grid_report.md hold one row per market x architecture.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from atb import __version__
from atb.benchmark.phase1 import Phase1Result, run_phase1
from atb.benchmark.records import Observer
from atb.benchmark.settings import BenchSettings, make_settings
from atb.data.cache import CacheKey, read_cache
from atb.data.files import read_candle_file
from atb.data.resample import resample_candles
from atb.data.symbols import normalize_symbol
from atb.data.timeframes import SUPPORTED, timeframe_seconds
from atb.errors import AtbError, UsageError
from atb.jsonio import dumps

log = logging.getLogger(__name__)

RESULTS_FILE = "grid_results.json"
REPORT_FILE = "grid_report.md"
CANDLE_SUFFIXES = (".csv", ".feather", ".json")
COLUMNS = ("market", "model", "RMSE", "naive RMSE", "skill %", "DM p (1-sided) vs naive", "dir. acc. %",
           "PT p", "Sharpe", "buy & hold Sharpe", "PSR vs B&H")


@dataclass(frozen=True)
class Market:
    symbol: str
    timeframe: str

    @property
    def name(self) -> str:
        return f"{self.symbol} {self.timeframe}"

    @property
    def folder(self) -> str:
        return f"{self.symbol}_{self.timeframe}"


@dataclass
class MarketData:
    """Where a market's candles come from."""

    market: Market
    data_file: Path | None  # None: the exchange (through the cache)
    origin: str  # the file, or "cache", or "exchange"
    resampled_from: str | None = None  # the shorter timeframe its bars were built from
    dropped_partial_bars: int = 0
    rows: int | None = None

    def to_dict(self) -> dict:
        return {"data_file": None if self.data_file is None else str(self.data_file), "origin": self.origin,
                "resampled_from": self.resampled_from, "dropped_partial_bars": self.dropped_partial_bars,
                "rows": self.rows}


@dataclass
class MarketOutcome:
    market: Market
    data: MarketData | None
    result: Phase1Result | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        if self.result is None:
            return "failed"
        return self.result.status


@dataclass
class GridResult:
    outcomes: list[MarketOutcome]
    results: dict
    files: dict[str, Path] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def failed_runs(self) -> int:
        return sum(len(o.result.failed) for o in self.outcomes if o.result is not None)

    @property
    def failed_markets(self) -> list[MarketOutcome]:
        return [o for o in self.outcomes if o.result is None]


def parse_markets(symbols: str, timeframes: str) -> list[Market]:
    """``BTCUSDT,ETHUSDT`` x ``1h,4h`` -> markets, symbol-major; UsageError for an empty or repeated item."""
    syms = [normalize_symbol(s) for s in (p.strip() for p in symbols.split(",")) if s]
    tfs = [t.strip() for t in timeframes.split(",") if t.strip()]
    if not syms:
        raise UsageError("--symbols is empty; e.g. --symbols BTCUSDT,ETHUSDT")
    if not tfs:
        raise UsageError("--timeframes is empty; e.g. --timeframes 1h,4h")
    for what, items in (("--symbols", syms), ("--timeframes", tfs)):
        if len(set(items)) != len(items):
            raise UsageError(f"{what} names an item twice: {','.join(items)}")
    for tf in tfs:
        timeframe_seconds(tf)  # UsageError for an unknown one
    return [Market(s, t) for s in syms for t in tfs]


def shorter_timeframes(timeframe: str) -> list[str]:
    """The timeframes whose whole bars make one `timeframe` bar, longest first."""
    target = timeframe_seconds(timeframe)
    return sorted((tf for tf in SUPPORTED if timeframe_seconds(tf) < target and target % timeframe_seconds(tf) == 0),
                  key=timeframe_seconds, reverse=True)


def find_file(data_dir: Path, symbol: str, timeframe: str) -> Path | None:
    """`<SYMBOL>_<tf>_*.csv` (or `<SYMBOL>_<tf>.csv`, .feather, .json) in data_dir; UsageError when several."""
    found = sorted(p for pattern in (f"{symbol}_{timeframe}_*", f"{symbol}_{timeframe}.*")
                   for p in data_dir.glob(pattern) if p.is_file() and p.suffix.lower() in CANDLE_SUFFIXES)
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise UsageError(f"--data-dir {data_dir}: several {symbol} {timeframe} files ({names}); keep one")
    return found[0] if found else None


def market_data(market: Market, data_dir: Path | None, candle_dir: Path, exchange: str = "binance") -> MarketData:
    """The market's candles as a file the benchmark reads: its own file, else resampled from a shorter one (from
    --data-dir, else from the cache); without --data-dir and nothing cached, the exchange."""
    if data_dir is not None:
        own = find_file(data_dir, market.symbol, market.timeframe)
        if own is not None:
            return MarketData(market, own, str(own))
        for shorter in shorter_timeframes(market.timeframe):
            path = find_file(data_dir, market.symbol, shorter)
            if path is not None:
                return _resampled(market, read_candle_file(path, shorter), shorter, str(path), candle_dir)
        raise UsageError(f"--data-dir {data_dir}: no {market.symbol} candles at {market.timeframe} or a shorter "
                         f"timeframe that divides it (files named like {market.symbol}_1h_*.csv)")
    cached = read_cache(CacheKey(exchange, market.symbol, market.timeframe))
    if cached is not None and not cached.candles.empty:
        path = _write_csv(cached.candles, candle_dir / f"{market.folder}_cache.csv")
        return MarketData(market, path, "cache", rows=len(cached.candles))
    for shorter in shorter_timeframes(market.timeframe):
        cached = read_cache(CacheKey(exchange, market.symbol, shorter))
        if cached is not None and not cached.candles.empty:
            return _resampled(market, cached.candles, shorter, "cache", candle_dir)
    return MarketData(market, None, "exchange")


def _resampled(market: Market, candles: pd.DataFrame, shorter: str, origin: str, candle_dir: Path) -> MarketData:
    result = resample_candles(candles, shorter, market.timeframe)
    if result.candles.empty:
        raise AtbError(f"{market.name}: no complete {market.timeframe} bar in {origin} ({result.summary()})")
    path = _write_csv(result.candles, candle_dir / f"{market.folder}_from_{shorter}.csv")
    log.info("%s: %s", market.name, result.summary())
    return MarketData(market, path, origin, shorter, result.dropped, len(result.candles))


def _write_csv(candles: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = candles.copy()
    frame["open_time"] = frame["open_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def plan_grid(markets: list[Market], output_dir: Path, data_dir: Path | None, exchange: str = "binance",
              **options) -> list[tuple[MarketData, BenchSettings]]:
    """Every market's candles and phase-1 settings, all checked before any training starts."""
    output_dir = Path(output_dir)
    if data_dir is not None and not Path(data_dir).is_dir():
        raise UsageError(f"--data-dir {data_dir}: no such folder")
    planned = []
    for market in markets:
        data = market_data(market, None if data_dir is None else Path(data_dir), output_dir / "candles", exchange)
        settings = make_settings(symbol=market.symbol, timeframe=market.timeframe,
                                 output_dir=output_dir / market.folder, data_file=data.data_file,
                                 data_source="file" if data.data_file else None, **options)
        if data.resampled_from:
            settings.notes.append(f"{market.timeframe} bars built from complete {data.resampled_from} bars of "
                                  f"{data.origin}; {data.dropped_partial_bars} partial bars dropped (gaps)")
        planned.append((data, settings))
    return planned


def run_grid(planned: list[tuple[MarketData, BenchSettings]], output_dir: Path, observer: Observer | None = None,
             market_started: Callable[[Market, int, int], None] | None = None) -> GridResult:
    """Each market's phase-1 benchmark, then grid_results.json and grid_report.md. A market whose candles or
    arguments fail is recorded and the next one runs; Ctrl-C writes what finished, then raises KeyboardInterrupt."""
    output_dir = Path(output_dir)
    outcomes: list[MarketOutcome] = []
    interrupted = False
    for i, (data, settings) in enumerate(planned, start=1):
        market = data.market
        if market_started is not None:
            market_started(market, i, len(planned))
        try:
            outcomes.append(MarketOutcome(market, data, run_phase1(settings, observer)))
        except KeyboardInterrupt:
            interrupted = True
            break
        except AtbError as exc:  # this market's data or protocol: written down, the next market runs
            outcomes.append(MarketOutcome(market, data, error=f"{type(exc).__name__}: {exc}"))
    result = GridResult(outcomes, grid_results(planned, outcomes, interrupted), interrupted=interrupted)
    write_grid(result, output_dir)
    if interrupted:
        raise KeyboardInterrupt
    return result


def grid_rows(outcome: MarketOutcome) -> list[dict]:
    """One row per architecture of a market (naive's RMSE beside each)."""
    result = outcome.result
    if result is None or result.summary is None:
        return []
    rows = [r.flat() for r in result.summary.rows]
    naive = next((r for r in rows if r["is_naive"]), {})
    out = []
    for r in rows:
        if r["is_naive"]:
            continue
        skill = r.get("rmse_skill_vs_naive")
        out.append({
            "symbol": outcome.market.symbol, "timeframe": outcome.market.timeframe, "model": r["label"],
            "is_baseline": r["is_baseline"], "seeds": r["seeds"], "windows": result.summary.windows,
            "test_rmse": r.get("test_rmse"), "naive_test_rmse": naive.get("test_rmse"),
            "skill_pct": None if skill is None else 100 * skill,
            "dm_p_one_sided_vs_naive": r.get("dm_p_one_sided_vs_naive"),
            "directional_accuracy": r.get("directional_accuracy"),
            "directional_pt_p": r.get("directional_pt_p_median"),
            "sharpe": r.get("backtest_sharpe"), "buy_and_hold_sharpe": r.get("backtest_buy_and_hold_sharpe"),
            "psr_vs_buy_and_hold": r.get("backtest_psr_vs_buy_and_hold"),
        })
    return out


def grid_results(planned: list[tuple[MarketData, BenchSettings]], outcomes: list[MarketOutcome],
                 interrupted: bool) -> dict:
    done = {o.market for o in outcomes}
    first = planned[0][1].to_dict() if planned else {}
    common = {k: first.get(k) for k in ("mode", "smoke_test", "days", "epochs", "seeds", "walk_forward", "models",
                                        "device", "threads", "features", "workers", "ray") if k in first}
    markets = []
    for o in outcomes:
        r = o.result
        markets.append({
            "symbol": o.market.symbol, "timeframe": o.market.timeframe, "status": o.status, "error": o.error,
            "data": o.data.to_dict() if o.data else None,
            "counts": r.results["counts"] if r else None,
            "test": None if r is None or r.summary is None else
            {"windows": r.summary.windows, "start": r.summary.start, "end": r.summary.end},
            "decision": r.decision.headline if r and r.decision else (r.results.get("error") if r else None),
            "files": {k: str(v) for k, v in r.files.items()} if r else {},
            "benchmark_id": r.benchmark_id if r else None,
        })
    not_run = [{"symbol": d.market.symbol, "timeframe": d.market.timeframe, "status": "not run"}
               for d, _ in planned if d.market not in done]
    statuses = [m["status"] for m in markets]
    status = ("interrupted" if interrupted else "completed" if statuses and all(s == "completed" for s in statuses)
              else "failed" if not any(s in ("completed", "partial") for s in statuses) else "partial")
    return {
        "benchmark": "grid", "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "atb_version": __version__, "status": status,
        "settings": {"symbols": sorted({d.market.symbol for d, _ in planned}, key=[d.market.symbol for d, _ in
                                                                                     planned].index),
                     "timeframes": sorted({d.market.timeframe for d, _ in planned}, key=timeframe_seconds),
                     **common},
        "markets": markets + not_run,
        "rows": [row for o in outcomes for row in grid_rows(o)],
    }


def write_grid(result: GridResult, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    files = {"results": output_dir / RESULTS_FILE, "report": output_dir / REPORT_FILE}
    result.results["files"] = {k: str(v) for k, v in files.items()}
    _atomic_write(files["report"], render_grid(result.results))
    _atomic_write(files["results"], dumps(result.results) + "\n")
    result.files = files


def cells(row: dict) -> list[str]:
    return [f"{row['symbol']} {row['timeframe']}", row["model"] + (" (baseline)" if row["is_baseline"] else ""),
            _num(row["test_rmse"], 4), _num(row["naive_test_rmse"], 4), _num(row["skill_pct"], 2, signed=True),
            _num(row["dm_p_one_sided_vs_naive"], 3), _num(row["directional_accuracy"], 1),
            _num(row["directional_pt_p"], 3), _num(row["sharpe"], 2), _num(row["buy_and_hold_sharpe"], 2),
            _num(row["psr_vs_buy_and_hold"], 2)]


def render_grid(results: dict) -> str:
    s = results["settings"]
    smoke = " — SMOKE TEST, not evidence for a decision" if s.get("smoke_test") else ""
    lines = [f"# Grid benchmark: {', '.join(s['symbols'])} x {', '.join(s['timeframes'])}{smoke}", "",
             f"Status: **{results['status']}** · {s.get('days')} days of target times per market, "
             f"{s.get('epochs')} epochs, seeds {', '.join(map(str, s.get('seeds') or []))}, "
             f"models {', '.join(s.get('models') or [])} · atb {results['atb_version']} · {results['created_at']}", "",
             "Each market runs the whole Phase-1 protocol on its own test windows (its report is linked below). RMSE "
             "in quote currency; skill = RMSE reduction vs naive persistence; DM p: one-sided Diebold-Mariano "
             "(model better than naive); PT p: Pesaran-Timmermann (median over seeds); Sharpe after costs, "
             "annualised, vs buy-and-hold on the same bars; PSR vs B&H: probability the Sharpe beats buy-and-hold's.",
             "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in results["rows"]]
    lines += ["", "## Markets", "", "| market | data | test windows | runs | decision |", "|---|---|---|---|---|"]
    for m in results["markets"]:
        data = m.get("data") or {}
        origin = (f"{data.get('resampled_from')} bars of {Path(data['origin']).name} resampled "
                  f"({data.get('dropped_partial_bars')} partial bars dropped)" if data.get("resampled_from")
                  else Path(data["origin"]).name if data.get("origin") else "-")
        test = m.get("test") or {}
        counts = m.get("counts") or {}
        runs = f"{counts.get('completed', 0)}/{counts.get('runs', 0)}" if counts else "-"
        windows = f"{test['windows']} ({test['start'][:10]} .. {test['end'][:10]})" if test else "-"
        report = (m.get("files") or {}).get("report")
        decision = m.get("decision") or m.get("error") or m["status"]
        name = f"[{m['symbol']} {m['timeframe']}]({Path(report).parent.name}/{Path(report).name})" if report else \
            f"{m['symbol']} {m['timeframe']}"
        lines.append(f"| {name} | {origin} | {windows} | {runs} | {_md(decision)} |")
    return "\n".join(lines) + "\n"


def _num(value, digits: int, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
