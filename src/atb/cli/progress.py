"""Rich progress for a training run: stages as lines, epochs as a bar with the losses and the LR."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from atb.cli.console import err


class RichReporter:
    def __init__(self, label: str = ""):
        self.label = label
        self.progress: Progress | None = None
        self.task = None

    def stage(self, message: str) -> None:
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
