"""`atb doctor [SYMBOL]`: the checklist that tells "there is no signal" from "there is a bug"; exit 1 on any FAIL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from atb.cli import options as opt
from atb.cli.console import err, out
from atb.doctor.settings import PRESETS
from atb.training.request import TrainRequest

if TYPE_CHECKING:
    from atb.doctor.result import CheckResult, DoctorReport

STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red", "SKIP": "dim"}


def doctor(
    symbol: str | None = typer.Argument(None, help="Your market, e.g. BTCUSDT: its candles are checked and its "
                                                   "latest model version audited."),
    data_file: opt.DataFile = None,
    data_source: opt.DataSource = None,
    exchange: opt.Exchange = TrainRequest.exchange,
    timeframe: opt.Timeframe = TrainRequest.timeframe,
    models: str | None = typer.Option(None, "--models", help="Comma list of architectures, each with an optional "
                                                             ":variant (default: every architecture; lightweight "
                                                             "with --quick, default otherwise)."),
    quick: bool = typer.Option(False, "--quick", help=f"{PRESETS['quick'].describe()}: under 3 minutes on 2 cores. "
                                                      f"Without it: {PRESETS['full'].describe()}."),
    version: opt.Version = None,
    models_dir: opt.ModelsDir = None,
    device: opt.Device = TrainRequest.device,
    threads: int | None = typer.Option(None, "--threads", help="CPU threads (default $ATB_THREADS, else 1: the "
                                                                 "doctor's models are small, the machine may be "
                                                                 "shared)."),
    as_json: opt.Json = False,
) -> None:
    """Check your candles, run atb's pipeline on markets whose answer is known (a planted signal, none, a planted
    leak) and audit a model version: PASS/WARN/FAIL per check, exit 1 on any FAIL. Nothing of yours is written."""
    # Deferred: the doctor pulls in pandas and torch; not for `atb --help`.
    from atb.doctor.runner import run_doctor
    from atb.doctor.settings import make_doctor_settings
    from atb.jsonio import dumps

    settings = make_doctor_settings(
        quick=quick, symbol=symbol, models=models, timeframe=timeframe, data_source=data_source, data_file=data_file,
        exchange=exchange, version=version, models_dir=models_dir, device=device, threads=threads,
    )
    if err.is_terminal:
        with err.status("atb doctor") as status:
            report = run_doctor(settings, lambda message: status.update(f"atb doctor: {escape(message)}"))
    else:
        report = run_doctor(settings, lambda message: err.print(f"[dim]doctor: {escape(message)}[/dim]",
                                                               highlight=False, soft_wrap=True))
    if as_json:
        print(dumps(report.to_dict()))
    else:
        render(report)
    if report.failed:
        raise typer.Exit(1)


def render(report: DoctorReport) -> None:
    from atb.doctor.result import FAMILIES

    s = report.settings
    out.print(f"[bold]atb doctor[/bold] ({s['mode']}): {s['symbol'] or 'no symbol'} {s['timeframe']} · candles: "
              f"{escape(s['candles'])} · models: {', '.join(s['models'])}", highlight=False, soft_wrap=True)
    width = max(len(c.name) for c in report.checks)
    for family, title in FAMILIES.items():
        checks = [c for c in report.checks if c.family == family]
        if not checks:
            continue
        out.print(f"\n[bold]{title}[/bold]", highlight=False)
        for check in checks:
            out.print(line(check, width), highlight=False, soft_wrap=True)
            if check.status.value in ("FAIL", "WARN") and check.detail:
                out.print(f"        [dim]{escape(check.detail)}[/dim]", highlight=False, soft_wrap=True)
            if check.status.value in ("FAIL", "WARN") and check.offenders:
                out.print(f"        [dim]worst: {escape(', '.join(check.offenders))}[/dim]", highlight=False,
                          soft_wrap=True)
    out.print("")
    for note in report.notes:
        out.print(f"[dim]- {escape(note)}[/dim]", highlight=False, soft_wrap=True)
    counts = ", ".join(f"{n} {k}" for k, n in report.counts().items() if n)
    style = STYLE[report.status.value]
    out.print(f"\n[{style}]{escape(report.verdict)}[/{style}]", highlight=False, soft_wrap=True)
    out.print(f"[dim]{counts}; {report.seconds:.0f} s[/dim]", highlight=False)


def line(check: CheckResult, width: int) -> str:
    status = check.status.value
    return f"  [{STYLE[status]}]{status:<4}[/{STYLE[status]}]  {escape(check.name):<{width}}  {escape(check.summary)}"
