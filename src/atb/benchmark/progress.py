"""Benchmark progress on stderr: one line per run ("run 4/9: attention_lstm default seed 43"), a transient
bar for its stages and epochs, and a result line with the time left estimated from the runs so far."""

from __future__ import annotations

import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from atb.benchmark.plan import RunSpec
from atb.benchmark.runner import RunRecord
from atb.cli.console import err


class RunReporter:
    """The pipeline's Reporter for one run: stages as the bar's description, epochs as its progress."""

    def __init__(self) -> None:
        # Not a terminal (a log file): no live display at all, only the run and result lines.
        self.progress = Progress(
            TextColumn("  {task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
            TextColumn("{task.fields[losses]}"), TimeElapsedColumn(), console=err, transient=True,
            disable=not err.is_terminal,
        )
        self.task = self.progress.add_task("starting", total=None, losses="")
        self.progress.start()

    def stage(self, message: str) -> None:
        self.progress.update(self.task, description=message)

    def fit_started(self, epochs: int, device: str, batch_size: int, windows: dict[str, int]) -> None:
        self.progress.update(self.task, description=f"epoch ({device}, {windows.get('train', 0)} train windows)",
                             total=epochs, completed=0)

    def epoch(self, stats) -> None:
        mark = " *" if stats.best else ""
        self.progress.update(self.task, completed=stats.epoch,
                             losses=f"train {stats.train_loss:.4f}  val {stats.val_loss:.4f}{mark}")

    def fit_finished(self) -> None:
        self.progress.update(self.task, losses="")

    def close(self) -> None:
        self.progress.stop()


class RichObserver:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def run_started(self, spec: RunSpec, total: int) -> RunReporter:
        err.print(f"[bold]run {spec.index}/{total}[/bold]: {spec.title}", highlight=False)
        return RunReporter()

    def run_finished(self, spec: RunSpec, total: int, record: RunRecord) -> None:
        elapsed = time.perf_counter() - self.started
        left = elapsed / spec.index * (total - spec.index)
        eta = f" · about {_duration(left)} left" if spec.index < total else ""
        if record.ok:
            m = record.metrics
            err.print(
                f"  [green]✓[/green] RMSE {m['test_rmse']:.4f} (naive {m['naive_test_rmse']:.4f}, skill "
                f"{100 * m['rmse_skill_vs_naive']:+.2f}%) · fit {m['training_time_s']:.1f}s, {m['epochs_run']} "
                f"epochs · {record.version_id}{eta}", highlight=False, soft_wrap=True)
        else:
            err.print(f"  [red]✗ {record.status}:[/red] {record.error}{eta}", highlight=False, soft_wrap=True)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
