"""Running every check: the user's candles and version (read only), then atb's own pipeline on the doctor's
markets, trained into a temporary registry with no run log (no user version, `latest` or run-log row is touched)."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from atb.doctor import markets
from atb.doctor.audit import audit_version, version_candles
from atb.doctor.data_quality import data_checks
from atb.doctor.leakage import CANARY_COLUMN, canary_check, causal_check, leak_bound_note, leaking_features
from atb.doctor.learning import WINDOWS, learning_check
from atb.doctor.placebo import chance_note, placebo_checks
from atb.doctor.result import CheckResult, DoctorReport, Status, worst
from atb.doctor.runs import MarketRun, Score, market_candles, market_request, score, train_run
from atb.doctor.settings import DoctorSettings, label
from atb.doctor.signal import SHARE_REQUIRED, signal_check
from atb.errors import AtbError
from atb.training.request import TrainRequest

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


def run_doctor(settings: DoctorSettings, progress: Progress | None = None) -> DoctorReport:
    """Every check, in FAMILIES order; raises AtbError only for bad input (a missing --version, unreadable candles)."""
    say = progress or (lambda message: None)
    started = time.perf_counter()
    user_version = resolve_user_version(settings)  # a wrong --version fails before anything trains
    candles, where = user_candles(settings)
    checks: list[CheckResult] = []

    say("checking the candles")
    if candles is None:
        checks.append(CheckResult("data", "candles", Status.SKIP, where))
    else:
        checks += _timed(lambda: data_checks(candles, settings.timeframe))

    _set_threads(settings)
    with tempfile.TemporaryDirectory(prefix="atb-doctor-") as tmp:
        registry = Path(tmp) / "models"
        runner = DoctorRuns(settings, registry, say)
        checks += runner.learning()
        signal, signal_candles = runner.known_signal()
        checks += signal
        checks += runner.placebo()
        checks += _timed(lambda: [causal_check(candles if candles is not None else signal_candles,
                                               settings.timeframe, where if candles is not None else
                                               "the doctor's synthetic market")])
        checks += runner.canary(candles if candles is not None else signal_candles, signal_candles, Path(tmp))
        say("auditing the model versions")
        checks += _timed(lambda: [runner.audit_own()])
        checks.append(_audit_user(settings, user_version, candles))

    notes = [attainable_note(), chance_note(len(settings.models)), leak_bound_note(),
             "The doctor trained into a temporary registry with no run log: no version, `latest` or run-log row of "
             "yours was written."]
    described = where if candles is None else (
        f"{where} ({len(candles):,} candles, {candles['open_time'].iloc[0]:%Y-%m-%d} .. "
        f"{candles['open_time'].iloc[-1]:%Y-%m-%d})")
    report = DoctorReport({**settings.to_dict(), "candles": described}, checks, notes, time.perf_counter() - started)
    return report


def _set_threads(settings: DoctorSettings) -> None:
    from atb.training.device import busy_cores_warning, configure_threads, resolve_device  # torch: deferred

    threads = configure_threads(settings.torch_threads)  # for the learning check; each training run sets it too
    if resolve_device(settings.device).type == "cpu" and (hint := busy_cores_warning(threads)):
        log.warning(hint)  # the doctor trains 7+ models: a busy machine can make --quick take many times longer


def attainable_note() -> str:
    phi = markets.SIGNAL_AR
    large = markets.attainable(phi)
    return (f"Known signal: AR(1) returns with phi = {phi} in GARCH noise; the best forecast from the past, "
            f"phi x the last return, attains an RMSE skill of 1 - sqrt(1 - phi^2) = {100 * large['rmse_skill']:.1f}% "
            f"vs naive and a directional accuracy near 1/2 + arcsin(|phi|)/pi = {large['directional_accuracy']:.1f}% "
            f"in a large sample; each model must reach {SHARE_REQUIRED:.0%} of what that forecast attains on the "
            "same test windows, with a one-sided DM p < 0.05 vs naive.")


def resolve_user_version(settings: DoctorSettings) -> Path | None:
    """The version to audit: --version, else the symbol's latest; None when there is none."""
    if not settings.symbol:
        return None
    from atb.config import models_dir
    from atb.registry.store import ModelStore, registry_symbol

    store = ModelStore(models_dir(settings.models_dir))
    folder = registry_symbol(settings.symbol, settings.data_source == "synthetic")
    if settings.version is not None:
        return store.resolve(folder, settings.version)
    latest = store.latest_name(folder)  # a damaged latest version is a finding of the audit, not an error
    return None if latest is None else store.price_dir(folder) / latest


def user_candles(settings: DoctorSettings) -> tuple[pd.DataFrame | None, str]:
    """The user's candles and where they come from (or None and why there are none)."""
    tf = settings.timeframe
    if settings.data_source == "file":
        from atb.data.files import read_candle_file

        candles = read_candle_file(settings.data_file, tf)
        return candles, candles.attrs["source"]
    if settings.data_source == "synthetic":
        from atb.data.synthetic import synthetic_candles
        from atb.data.timeframes import bars_per_day

        candles = synthetic_candles(int(365 * bars_per_day(tf)), symbol=settings.symbol or "BTCUSDT", timeframe=tf,
                                    seed=TrainRequest.synthetic_seed, ar_coef=TrainRequest.synthetic_ar_coef)
        return candles, "the synthetic market"
    if settings.data_source == "exchange" and settings.symbol:
        from atb.data.cache import CacheKey, read_cache

        key = CacheKey(settings.exchange, settings.symbol, tf)
        cached = read_cache(key)
        if cached is None or cached.candles.empty:
            return None, (f"no cached {key.label()} candles: run 'atb data download {settings.symbol} --timeframe "
                          f"{tf}' (or 'atb data import FILE ...'), or give --data-file")
        return cached.candles, f"the {key.label()} cache"
    return None, "no candles of yours: give SYMBOL with --data-file or cached candles to check them"


def _timed(fn: Callable[[], list[CheckResult]]) -> list[CheckResult]:
    t0 = time.perf_counter()
    results = fn()
    for r in results:
        r.seconds = (time.perf_counter() - t0) / len(results)
    return results


class DoctorRuns:
    """The doctor's own training runs, each through train_model into the temporary registry."""

    def __init__(self, settings: DoctorSettings, registry: Path, say: Progress):
        self.settings, self.registry, self.say = settings, registry, say
        self.signal_runs: dict[str, list[MarketRun]] = {}

    @property
    def seeds(self) -> list[int]:
        return [TrainRequest.seed + i for i in range(self.settings.preset.seeds)]

    def request(self, market: markets.Market, arch: str, variant: str, seed: int = TrainRequest.seed) -> TrainRequest:
        return market_request(market, arch, variant, seed, self.settings, self.registry)

    def learning(self) -> list[CheckResult]:
        from atb.training.pipeline import prepare_data

        arch, variant = self.settings.models[0]
        dataset = prepare_data(self.request(markets.LEARNING, arch, variant))[1]
        out = []
        for arch, variant in self.settings.models:
            name = label(arch, variant)
            self.say(f"learning: {name} memorises {WINDOWS} windows")
            out += _timed(lambda a=arch, v=variant, n=name: [_guard("learning", n, lambda: learning_check(
                a, v, n, dataset, self.settings.device))])
        return out

    def _train_all(self, market: markets.Market, what: str) -> tuple[dict[str, list[MarketRun]], dict[str, str],
                                                                        dict[str, float]]:
        runs, errors, seconds = {}, {}, {}
        total = len(self.settings.models) * len(self.seeds)
        done = 0
        for arch, variant in self.settings.models:
            name = label(arch, variant)
            t0 = time.perf_counter()
            for seed in self.seeds:
                done += 1
                self.say(f"{what}: training {name}, seed {seed} ({done}/{total})")
                try:
                    runs.setdefault(name, []).append(train_run(self.request(market, arch, variant, seed)))
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # a broken architecture is a finding, not the end of the doctor
                    log.debug("doctor run failed", exc_info=True)
                    errors[name] = f"training failed: {type(exc).__name__}: {exc}"
                    runs.pop(name, None)
                    break
            seconds[name] = time.perf_counter() - t0
        return runs, errors, seconds

    def known_signal(self, market: markets.Market = markets.SIGNAL) -> tuple[list[CheckResult], pd.DataFrame]:
        """One line per architecture, and the market's candles. ``market``: another seed (benchmarks/)."""
        arch, variant = self.settings.models[0]
        candles = market_candles(self.request(market, arch, variant))
        runs, errors, seconds = self._train_all(market, "known signal")
        self.signal_runs = runs
        out = []
        for name in self.settings.labels():
            if name in errors:
                out.append(CheckResult("signal", name, Status.FAIL, errors[name], seconds=seconds[name]))
                continue
            result = _guard("signal", name, lambda n=name: signal_check(n, score(runs[n], candles, market.ar_coef),
                                                                        market.ar_coef))
            result.seconds = seconds[name]
            out.append(result)
        return out, candles

    def placebo(self, market: markets.Market = markets.PLACEBO) -> list[CheckResult]:
        arch, variant = self.settings.models[0]
        candles = market_candles(self.request(market, arch, variant))
        runs, errors, seconds = self._train_all(market, "placebo")
        scores: dict[str, Score] = {n: score(r, candles, 0.0) for n, r in runs.items()}
        out = placebo_checks(scores) if scores else []
        out += [CheckResult("placebo", n, Status.FAIL, e) for n, e in errors.items()]
        order = self.settings.labels()
        out.sort(key=lambda r: order.index(r.name))
        for r in out:
            r.seconds = seconds.get(r.name, 0.0)
        return out

    def canary(self, candles: pd.DataFrame, signal_candles: pd.DataFrame, tmp: Path) -> list[CheckResult]:
        t0 = time.perf_counter()
        self.say("leakage canary: the truncation test on a planted column")
        caught = CANARY_COLUMN in leaking_features(candles, self.settings.timeframe, plant=True)
        leaked = markets.plant_leak(signal_candles)
        path = tmp / "leaked-candles.parquet"
        leaked.to_parquet(path, index=False)
        market = markets.Market("leaked", markets.SIGNAL_AR, markets.SIGNAL_SEED, data_file=path)
        arch, variant = self.settings.models[0]
        name = label(arch, variant)
        self.say(f"leakage canary: training {name} on candles that hold the next return")

        def check() -> CheckResult:
            run = train_run(self.request(market, arch, variant))
            return canary_check(name, score([run], leaked, markets.SIGNAL_AR), caught)

        result = _guard("leakage", "canary", check)
        result.seconds = time.perf_counter() - t0
        return [result]

    def audit_own(self) -> CheckResult:
        """The versions the known-signal runs just wrote: today's pipeline must write consistent versions."""
        results = []
        for name, runs in self.signal_runs.items():
            meta = runs[0].metadata
            candles, note = version_candles(meta, None)
            results.append(audit_version(runs[0].version_dir, candles, note, name))
        if not results:
            return CheckResult("audit", "the doctor's fresh versions", Status.SKIP, "no known-signal run completed")
        status = worst([r.status for r in results])
        bad = [r for r in results if r.status is not Status.PASS]
        summary = (f"{len(results)} versions written by the known-signal runs: " + results[0].summary if not bad else
                   "; ".join(f"{r.name}: {r.summary}" for r in bad))
        return CheckResult("audit", "the doctor's fresh versions", status, summary,
                           {"versions": [r.to_dict() for r in results]},
                           "" if not bad else "; ".join(r.detail for r in bad if r.detail))


def _audit_user(settings: DoctorSettings, version: Path | None, candles: pd.DataFrame | None) -> CheckResult:
    if version is None:
        from atb.config import models_dir

        why = ("no SYMBOL given" if not settings.symbol else
               f"no trained model of {settings.symbol} under {models_dir(settings.models_dir)}")
        return CheckResult("audit", "your version", Status.SKIP, f"{why}: nothing to audit")
    t0 = time.perf_counter()
    from atb.registry.store import read_metadata

    try:
        meta = read_metadata(version)
    except AtbError as exc:
        return CheckResult("audit", version.name, Status.FAIL, str(exc))
    version_span, note = version_candles(meta, candles)
    result = audit_version(version, version_span, note, version.name)
    result.seconds = time.perf_counter() - t0
    return result


def _guard(family: str, name: str, check: Callable[[], CheckResult]) -> CheckResult:
    """A check that raises (a broken architecture, a bug) becomes a FAIL line, not the end of the doctor."""
    try:
        return check()
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        log.debug("doctor check failed", exc_info=True)
        return CheckResult(family, name, Status.FAIL, f"the check raised {type(exc).__name__}: {exc}")
