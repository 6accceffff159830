"""The equity and drawdown chart of a backtest (PNG): the strategy against buy-and-hold, momentum and cash on the
same bars, after costs."""

from __future__ import annotations

from pathlib import Path

from atb.backtest.result import BacktestResult

STYLES = {  # name -> (label, colour, line width)
    "strategy": ("strategy", "tab:blue", 1.6),
    "buy_and_hold": ("buy-and-hold", "tab:gray", 1.2),
    "momentum": ("momentum", "tab:orange", 1.0),
    "cash": ("cash", "black", 0.8),
}


def plot_backtest(result: BacktestResult, path: Path, title: str) -> Path:
    import matplotlib  # deferred: ~0.5 s, only when a plot is drawn

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    times = result.target_time.tz_convert(None)  # matplotlib's date axis wants naive times (UTC here)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=(2, 1))
    for name, (label, color, width) in STYLES.items():
        run = getattr(result, name)
        style = ":" if name == "cash" else "-"
        top.plot(times, run.equity, style, color=color, linewidth=width,
                 label=f"{label} (Sharpe {_num(run.metrics.sharpe)}, total {100 * run.metrics.total_return:+.1f}%)")
        if name in ("strategy", "buy_and_hold"):
            bottom.fill_between(times, -100 * run.drawdown, 0, color=color, alpha=0.35 if name == "strategy" else 0.2,
                                step="post", label=label)
    top.set_ylabel("equity (start = 1)")
    top.set_title(title)
    top.legend(loc="best", fontsize=8)
    top.grid(alpha=0.3)
    bottom.set_ylabel("drawdown %")
    bottom.set_xlabel("target time (UTC)")
    bottom.legend(loc="lower left", fontsize=8)
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _num(value: float) -> str:
    return "n/a" if value != value else f"{value:.2f}"
