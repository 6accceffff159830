"""`atb tune run SYMBOL ...`: a hyper-parameter search (Optuna; local worker processes or a Ray cluster) whose
winner is scored once on test and published; `atb tune show STUDY`: its trials, best params and importances."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from atb.cli import options as opt
from atb.cli.console import err, out
from atb.tuning.settings import TuneSettings

app = typer.Typer(help="Hyper-parameter search (Optuna): validation only, the winner scored once on test.",
                  no_args_is_help=True)


def _fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.{digits}f}"
    return str(value)


@app.command("run")
def run(
    symbol: str = typer.Argument(..., help="Market symbol, e.g. BTCUSDT."),
    model_type: opt.ModelType = "tcn",
    trials: int = typer.Option(20, "--trials", "-n", help="Finished (complete + pruned) trials the study should "
                                                          "have; a resumed study runs the missing ones."),
    timeout: float | None = typer.Option(None, "--timeout", help="Stop starting trials after this many seconds."),
    study: str | None = typer.Option(None, "--study", help="Study name (default SYMBOL_MODELTYPE_TIMEFRAME); the "
                                                          "same name resumes it."),
    storage: str | None = typer.Option(None, "--storage", help="Journal file or SQLAlchemy URL (e.g. postgresql://"
                                                              "...) of the study; default $ATB_DATA_DIR/optuna/"
                                                              "STUDY.journal. Never the run-log database."),
    workers: opt.Workers = 1,
    ray: opt.Ray = None,
    cpus_per_trial: float = typer.Option(1.0, "--cpus-per-trial", help="With --ray: CPUs per trial."),
    gpus_per_trial: float = typer.Option(0.0, "--gpus-per-trial", help="With --ray: GPUs per trial."),
    days: opt.Days = 30,
    end_date: opt.EndDate = None,
    timeframe: opt.Timeframe = TuneSettings.timeframe,
    epochs: opt.Epochs = TuneSettings.epochs,
    patience: int = typer.Option(TuneSettings.patience, "--patience", help="Early-stopping patience in epochs."),
    seed: int = typer.Option(TuneSettings.seed, "--seed", help="TPE sampler seed and every trial's model seed."),
    data_source: opt.DataSource = None,
    data_file: opt.DataFile = None,
    exchange: opt.Exchange = TuneSettings.exchange,
    features: opt.Features = TuneSettings.features,
    threads: opt.Threads = None,
    models_dir: opt.ModelsDir = None,
    no_final: bool = typer.Option(False, "--no-final", help="Search only: do not score the best on test yet."),
    no_db: opt.NoDb = False,
    as_json: opt.Json = False,
) -> None:
    """Search SYMBOL's MODELTYPE hyper-parameters on the validation split; score the best once on test, publish
    it, and compare it with the default configuration (DM test)."""
    # Deferred: pandas, torch, optuna and rich.progress would slow down `atb --help`.
    from atb.cli.progress import RichReporter
    from atb.cluster import ray_address
    from atb.data.timeparse import optional_time
    from atb.errors import UsageError
    from atb.tuning.local import SearchPlan
    from atb.tuning.runner import check_arguments, tune
    from atb.tuning.storage import check_study_name, resolve

    market = symbol.upper().replace("/", "")
    name = check_study_name(study or f"{market}_{model_type}_{timeframe}")
    end = optional_time(end_date, "--end-date", end=True)
    settings = TuneSettings(
        symbol=market, architecture=model_type, days=days, end=None if end is None else end.isoformat(),
        timeframe=timeframe, epochs=epochs, patience=patience, seed=seed,
        data_source=data_source or ("file" if data_file else "exchange"),
        data_file=str(Path(data_file).absolute()) if data_file else None, exchange=exchange, features=features,
        threads=threads,
    )
    spec = resolve(storage, name)
    address = ray_address(ray)
    if address and workers > 1:
        raise UsageError("--workers runs processes on this machine; on a Ray cluster the trials' concurrency follows "
                         "--cpus-per-trial and the cluster's CPUs")
    plan = SearchPlan(name, spec, settings, trials, timeout, workers)
    check_arguments(plan)
    err.print(f"study {name} in {spec.label}: up to {trials} trials"
              + (f" on the Ray cluster at {address}" if address else f", {workers} worker(s)"), highlight=False)

    def on_trial(trial) -> None:
        value = "" if trial.value is None else f" val MSE {trial.value:.5f}"
        if trial.state.name == "FAIL":
            reason = str(trial.system_attrs.get("fail_reason", "")).strip().splitlines()
            value = f" ({reason[-1][:200]})" if reason else ""
        err.print(f"  trial {trial.number}: {trial.state.name.lower()}{value}", highlight=False)

    with RichReporter() as reporter:
        outcome = tune(plan, models_dir=models_dir, log_to_db=not no_db, ray_address=address,
                       cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial, final=not no_final,
                       on_trial=on_trial, reporter=reporter)
    done = outcome.finalized
    if as_json:
        print(json.dumps({"study": outcome.study, "storage": outcome.storage, "counts": outcome.counts,
                          "search_seconds": outcome.search_seconds, "backend": outcome.backend,
                          "version_dir": str(done.version_dir) if done else None,
                          "tuning": done.tuning if done else None}, indent=2))
        return
    c = outcome.counts
    out.print(f"{outcome.study}: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed trials "
              f"({outcome.search_seconds:.0f} s, {outcome.backend})", highlight=False)
    if done is None:
        return
    t, cmp = done.tuning, done.comparison
    out.print(f"best trial {t['best_trial']}: validation MSE {t['best_value']:.5f}; "
              + ", ".join(f"{k}={_fmt(v)}" for k, v in t["best_params"].items()), highlight=False, soft_wrap=True)
    backtest = done.metadata.backtest or {}
    dsr = _fmt(backtest.get("dsr"), 3)
    if backtest.get("dsr") is None:
        trades = (backtest.get("strategy") or {}).get("n_trades")
        dsr = "n/a: no trade on test" if trades == 0 else "n/a"
    out.print(f"tuned vs default: RMSE {cmp.tuned_rmse:.2f} vs {cmp.default_rmse:.2f}, DM one-sided "
              f"p={_fmt(cmp.dm_p_one_sided, 3)} ({cmp.windows} test windows); {t['n_trials']} configurations were "
              f"tried (Deflated Sharpe {dsr}, trial Sharpe variance {_fmt(t['trial_sharpe_var'], 3)})",
              highlight=False, soft_wrap=True)
    out.print(f"[green]✓[/green] Saved {done.version_dir}  (latest -> {done.version_dir.name})", highlight=False)


def _seconds(trial: dict):
    """A Ray trial is stored after the search (its stored duration is 0): its fit time instead."""
    attrs = trial["user_attrs"]
    return attrs.get("fit_seconds") if attrs.get("backend") == "ray" else trial["duration_s"]


@app.command("show")
def show(
    study: str = typer.Argument(..., help="Study name (see the storage's folder $ATB_DATA_DIR/optuna/)."),
    storage: str | None = typer.Option(None, "--storage", help="Journal file or SQLAlchemy URL (default "
                                                              "$ATB_DATA_DIR/optuna/STUDY.journal)."),
    as_json: opt.Json = False,
    html: opt.Html = None,
) -> None:
    """Trials of STUDY (state, validation MSE, params, duration), its best params and parameter importances."""
    from atb.cli.tables import Col, print_table
    from atb.tuning.result import study_summary
    from atb.tuning.storage import check_study_name, resolve

    opt.check_html_path(html)
    summary = study_summary(check_study_name(study), resolve(storage, study))
    if html is not None:
        from atb.reports.tune import write_tune_report  # deferred: plotly and jinja2

        synthetic = (summary.get("settings") or {}).get("data_source") == "synthetic"
        err.print(f"[dim]html:[/dim] {write_tune_report(summary, html, synthetic=synthetic)}", highlight=False)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    c = summary["counts"]
    rows = [[str(t["number"]), t["state"].lower(), _fmt(t["value"], 5), _fmt(t["user_attrs"].get("val_sharpe"), 3),
             _fmt(_seconds(t), 3),
             " ".join(f"{k}={_fmt(v, 3)}" for k, v in t["params"].items())] for t in summary["trials"]]
    print_table(out, [Col("#"), Col("state", "left"), Col("val MSE"), Col("val Sharpe"), Col("s"),
                      Col("params", "left", wrap=True)], rows,
                title=f"{study}: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed, "
                      f"{c['running']} running ({summary['storage']})")
    best = summary["best"]
    if best:
        out.print(f"best trial {best['number']}: validation MSE {best['value']:.5f}", highlight=False)
        print_table(out, [Col("param", "left"), Col("value")], [[k, _fmt(v, 4)] for k, v in best["params"].items()])
    if summary["importances"]:
        print_table(out, [Col("param", "left"), Col("importance")],
                    [[k, f"{v:.3f}"] for k, v in summary["importances"].items()], title="parameter importances")
    elif summary["importances_note"]:
        out.print(f"importances: {summary['importances_note']}", highlight=False)
