"""phase1_comparison.png: the guide's three panels (RMSE, MAE, training time) with the baseline as a dashed
line, plus directional accuracy with its 95% CI and the 50% line. The naive forecast is a bar in RMSE/MAE;
with several seeds the error bars are the std across seeds."""

from __future__ import annotations

from pathlib import Path

from atb.benchmark.aggregate import Summary
from atb.ensemble import describe

NAIVE_COLOR = "tab:orange"


def _name(row) -> str:
    if row.is_naive:
        return "naive\n(last close)"
    return f"{row.architecture}\n{row.variant}" + (", baseline" if row.is_baseline else "")


def plot_comparison(summary: Summary, path: Path, title: str, run_label: str = "") -> Path:
    """``run_label``: e.g. "30 days, 20 epochs", shown on the training-time panel as in the guide."""
    import matplotlib  # deferred: ~0.5 s, only when a plot is drawn

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    rows = summary.rows
    models = [r for r in rows if not r.is_naive]
    baseline = next((r for r in rows if r.is_baseline), None)
    fig, axes = plt.subplots(1, 4, figsize=(20, 5))
    panels = [
        (axes[0], rows, "test_rmse", "RMSE", "Test RMSE (Lower is Better)"),
        (axes[1], rows, "test_mae", "MAE", "Mean Absolute Error (Lower is Better)"),
        (axes[2], models, "training_time_s", "Seconds", f"Training Time, fit only ({run_label or 'per run'})"),
    ]
    for ax, subset, key, ylabel, panel_title in panels:
        _bars(ax, subset, [r.mean.get(key) for r in subset], [r.std.get(key) for r in subset])
        ax.set_ylabel(ylabel)
        ax.set_title(panel_title)
        if baseline is not None and baseline.mean.get(key) is not None:
            ax.axhline(baseline.mean[key], color="r", linestyle="--", label="Baseline")
            ax.legend(loc="lower right")
        if key != "training_time_s":
            _zoom(ax, [r.mean.get(key) for r in subset], [r.std.get(key) for r in subset])
            ax.set_ylabel(f"{ylabel} (axis not from 0)")
        else:
            ax.set_ylim(bottom=0)

    ax = axes[3]
    acc = [r.mean.get("directional_accuracy") for r in models]
    lo = [_gap(a, r.directional_accuracy_ci95[0]) for a, r in zip(acc, models, strict=True)]
    hi = [_gap(r.directional_accuracy_ci95[1], a) for a, r in zip(acc, models, strict=True)]
    _bars(ax, models, acc, [lo, hi])
    ax.axhline(50, color="k", linestyle=":", label="50% (coin flip)")
    ax.set_ylabel("% correct up/down")
    ax.set_title("Directional Accuracy (95% CI)")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower right")

    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def _bars(ax, rows, values, errors) -> None:
    heights = [0.0 if v is None else v for v in values]
    colors = [NAIVE_COLOR if r.is_naive else describe(r.architecture).color for r in rows]
    ax.bar(range(len(rows)), heights, color=colors, edgecolor="black", linewidth=0.5)
    asymmetric = bool(errors) and isinstance(errors[0], list)  # [[below...], [above...]]
    for i, h in enumerate(heights):
        err = [[errors[0][i]], [errors[1][i]]] if asymmetric else errors[i]
        if err is not None and not (asymmetric and None in (errors[0][i], errors[1][i])):
            ax.errorbar(i, h, yerr=err, fmt="none", ecolor="black", capsize=4)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([_name(r) for r in rows], rotation=20, ha="right", fontsize=9)


def _zoom(ax, values, errors) -> None:
    # RMSEs of price forecasts differ by a few percent; a zero-based axis would hide the differences.
    pairs = [(v, e or 0.0) for v, e in zip(values, errors, strict=True) if v is not None]
    if not pairs:
        return
    low = min(v - e for v, e in pairs)
    high = max(v + e for v, e in pairs)
    pad = max((high - low) * 0.5, abs(high) * 0.01)
    ax.set_ylim(max(0.0, low - pad), high + pad)


def _gap(a: float | None, b: float | None) -> float:
    return 0.0 if a is None or b is None else max(0.0, a - b)
