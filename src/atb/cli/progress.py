"""Rich progress on stderr: the training pipeline's Reporter for `atb train` (stages as lines, epochs as a bar
with the losses and the LR), the benchmark's Observer (one line per run, a transient bar for its stages and
epochs, a result line with the time left), and a transient bar for candle downloads."""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from atb.cli.console import err

if TYPE_CHECKING:
    from atb.benchmark.plan import RunSpec
    from atb.benchmark.records import RunRecord


class DownloadBar:
    """A download's progress callback (candles done, candles to fetch): a transient bar that appears with the
    first report and is gone when the download completes or the bar is closed."""

    def __init__(self, label: str):
        self.label = label
        self.progress: Progress | None = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            if done >= total:
                return
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("candles"), TimeRemainingColumn(), console=err, transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        self.progress.update(self.task, completed=done, total=total)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def __enter__(self) -> DownloadBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class RichReporter:
    """`atb train model`: use as a context manager, so that an error leaves no live display behind."""

    def __init__(self, label: str = ""):
        self.label = label
        self.progress: Progress | None = None
        self.task = None
        self.download = DownloadBar("  download")

    def stage(self, message: str) -> None:
        self.download.close()
        err.print(f"[dim]•[/dim] {self.label}{message}", highlight=False)

    def fit_started(self, epochs: int, device: str, batch_size: int, windows: dict[str, int]) -> None:
        sizes = ", ".join(f"{k} {v}" for k, v in windows.items())
        err.print(f"[dim]•[/dim] {self.label}Training on {device}, batch size {batch_size}; windows: {sizes}",
                  highlight=False)
        self.progress = Progress(
            TextColumn("  epoch"), MofNCompleteColumn(), BarColumn(bar_width=24),
            TextColumn("{task.fields[losses]}"), TimeElapsedColumn(), console=err, transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task("fit", total=epochs, losses="")

    def epoch(self, stats) -> None:
        mark = " *" if stats.best else ""
        losses = f"train {stats.train_loss:.4f}  val {stats.val_loss:.4f}{mark}  lr {stats.lr:.1e}"
        if self.progress is not None:
            self.progress.update(self.task, completed=stats.epoch, losses=losses)

    def fit_finished(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def close(self) -> None:
        self.download.close()
        self.fit_finished()

    def __enter__(self) -> RichReporter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class RunReporter:
    """The pipeline's Reporter for one benchmark run: stages as the bar's description, epochs and downloaded
    candles as its progress."""

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

    def download(self, done: int, total: int) -> None:
        self.progress.update(self.task, total=total, completed=done)

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
    """`atb bench phase1`: the benchmark runner's Observer."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.finished = 0  # runs finished so far (with --workers they finish out of plan order)

    def run_started(self, spec: RunSpec, total: int) -> RunReporter:
        err.print(f"[bold]run {spec.index}/{total}[/bold]: {spec.title}", highlight=False)
        return RunReporter()

    def run_finished(self, spec: RunSpec, total: int, record: RunRecord) -> None:
        self.finished += 1
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.finished * (total - self.finished)
        eta = f" · about {_duration(left)} left" if self.finished < total else ""
        if record.ok:
            m = record.metrics
            err.print(
                f"  [green]✓[/green] RMSE {m['test_rmse']:.4f} (naive {m['naive_test_rmse']:.4f}, skill "
                f"{100 * m['rmse_skill_vs_naive']:+.2f}%) · fit {m['training_time_s']:.1f}s"
                + (f", {m['epochs_run']} epochs" if m.get("epochs_run") is not None else "")
                + f" · {record.version_id}{eta}", highlight=False, soft_wrap=True)
        else:
            err.print(f"  [red]✗ {record.status}:[/red] {record.error}{eta}", highlight=False, soft_wrap=True)

    def doctor_stage(self, message: str) -> None:
        """--doctor: what the quick doctor is doing (it runs after the benchmark's runs)."""
        err.print(f"[dim]doctor: {escape(message)}[/dim]", highlight=False, soft_wrap=True)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
