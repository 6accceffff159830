"""The reports' plotly figures. Each builder takes plain arrays and frames (never a result object) and returns a
plotly Figure; html.figure_html turns it into a <div>."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

ACTUAL, NAIVE, HOLD = "#222222", "#9a9a9a", "#7f7f7f"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22")
STRATEGY_STYLE = {  # name -> (label, colour, width, dash); the colours of the PNG chart (backtest/plot.py)
    "strategy": ("strategy", "#1f77b4", 2.0, "solid"),
    "buy_and_hold": ("buy-and-hold", HOLD, 1.5, "solid"),
    "momentum": ("momentum", "#ff7f0e", 1.2, "solid"),
    "cash": ("cash", "#000000", 1.0, "dot"),
}
# The title at the very top, the legend between it and the plot (they never overlap).
LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=85, b=40), hovermode="x unified",
              legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0))


def _title(text: str) -> dict:
    return dict(text=text, x=0.01, xanchor="left", y=0.985, yanchor="top", font=dict(size=15))


def _times(values) -> list[str]:
    """Target times as ISO strings (UTC, no offset: the axis says UTC)."""
    return [f"{t:%Y-%m-%d %H:%M}" for t in pd.to_datetime(pd.Series(values), utc=True)]


def forecasts(series: Sequence[tuple[str, pd.DataFrame]], title: str) -> go.Figure:
    """Predicted close against the actual close and the naive forecast (the last close), on the test window.
    ``series``: (label, frame with target_time, last_close, actual_close, predicted_close), all on one market;
    the actual close and the naive forecast are drawn from the first frame."""
    fig = go.Figure()
    first = series[0][1].sort_values("target_time")
    x = _times(first["target_time"])
    fig.add_trace(go.Scatter(x=x, y=first["actual_close"].to_numpy(float), name="actual close",
                             line=dict(color=ACTUAL, width=2)))
    fig.add_trace(go.Scatter(x=x, y=first["last_close"].to_numpy(float), name="naive (last close)",
                             line=dict(color=NAIVE, width=1.2, dash="dot")))
    for i, (label, frame) in enumerate(series):
        frame = frame.sort_values("target_time")
        fig.add_trace(go.Scatter(x=_times(frame["target_time"]), y=frame["predicted_close"].to_numpy(float),
                                 name=f"{label} forecast", line=dict(color=PALETTE[i % len(PALETTE)], width=1.4)))
    fig.update_layout(title=_title(title), xaxis_title="target time (UTC)", yaxis_title="close", **LAYOUT)
    return fig


def equity(times, curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str,
           labels: dict[str, str] | None = None) -> go.Figure:
    """Equity (start = 1) on top and drawdown (%) below, for each curve: name -> (equity, drawdown as a fraction).
    Names in STRATEGY_STYLE get its style; others (models) the palette."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06)
    x = _times(times)
    for i, (name, (eq, dd)) in enumerate(curves.items()):
        label, color, width, dash = STRATEGY_STYLE.get(name, (name, PALETTE[i % len(PALETTE)], 1.6, "solid"))
        label = (labels or {}).get(name, label)
        fig.add_trace(go.Scatter(x=x, y=np.asarray(eq, float), name=label, legendgroup=name,
                                 line=dict(color=color, width=width, dash=dash)), row=1, col=1)
        if name != "cash":  # cash never draws down
            fig.add_trace(go.Scatter(x=x, y=-100 * np.asarray(dd, float), name=f"{label} drawdown", legendgroup=name,
                                     showlegend=False, line=dict(color=color, width=1, shape="hv"), fill="tozeroy",
                                     opacity=0.5), row=2, col=1)
    fig.update_yaxes(title_text="equity (start = 1)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    fig.update_xaxes(title_text="target time (UTC)", row=2, col=1)
    fig.update_layout(title=_title(title), **LAYOUT)
    return fig


def run_scores(runs: Sequence[dict], metric: str, title: str, y_title: str) -> go.Figure:
    """One bar per run (seed and fold) of each model: runs are dicts with label, seed, fold and the value."""
    fig = go.Figure()
    labels = list(dict.fromkeys(r["label"] for r in runs))
    for i, label in enumerate(labels):
        mine = [r for r in runs if r["label"] == label]
        fig.add_trace(go.Bar(x=[f"seed {r['seed']} · fold {r['fold']}" for r in mine],
                             y=[_nan(r.get(metric)) for r in mine], name=label,
                             marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_layout(title=_title(title), barmode="group", yaxis_title=y_title, **{**LAYOUT, "hovermode": "closest"})
    fig.add_hline(y=0, line=dict(color=ACTUAL, width=1))
    return fig


def history(trials: Sequence[dict], direction: str, title: str) -> go.Figure:
    """An optimisation history: each finished trial's objective, the best so far, pruned and failed trials
    marked (at the best-so-far level when they have no value)."""
    minimize = direction.lower().startswith("min")
    done = [t for t in trials if t.get("state") == "COMPLETE" and _finite(t.get("value"))]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[t["number"] for t in done], y=[t["value"] for t in done], mode="markers",
                             name="complete", marker=dict(color=PALETTE[0], size=8),
                             text=[_params_text(t.get("params")) for t in done], hovertemplate="%{text}"))
    best, xs, ys = None, [], []
    for t in sorted(done, key=lambda t: t["number"]):
        v = t["value"]
        best = v if best is None or (v < best if minimize else v > best) else best
        xs.append(t["number"])
        ys.append(best)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="best so far", line=dict(color=PALETTE[1], shape="hv")))
    fallback = ys[-1] if ys else 0.0
    for state, symbol, color in (("PRUNED", "x", "#ff7f0e"), ("FAIL", "x-thin", "#d62728")):
        mine = [t for t in trials if t.get("state") == state]
        if mine:
            fig.add_trace(go.Scatter(
                x=[t["number"] for t in mine],
                y=[t["value"] if _finite(t.get("value")) else fallback for t in mine], mode="markers",
                name="pruned" if state == "PRUNED" else "failed",
                marker=dict(symbol=symbol, color=color, size=10, line=dict(width=2, color=color))))
    fig.update_layout(title=_title(title), xaxis_title="trial", yaxis_title=f"objective ({direction})",
                      **{**LAYOUT, "hovermode": "closest"})
    return fig


def importances(values: dict[str, float], title: str) -> go.Figure:
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h",
                           marker_color=PALETTE[0]))
    fig.update_layout(title=_title(title), xaxis_title="importance",
                      **{**LAYOUT, "hovermode": "closest"}, height=max(260, 70 + 40 * len(items)))
    return fig


def ab_series(frame: pd.DataFrame, roles: Sequence[tuple[str, str]], title: str) -> go.Figure:
    """Forecasts of each role against the realised close (top) and the cumulative squared-error difference
    challenger - champion (bottom: falling means the challenger is doing better). ``frame``: target_time,
    last_close, actual_close and one predicted column per role; ``roles``: (column, label)."""
    rows = 2 if len(roles) > 1 else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        row_heights=[0.65, 0.35] if rows == 2 else [1.0])
    x = _times(frame["target_time"])
    fig.add_trace(go.Scatter(x=x, y=frame["actual_close"].to_numpy(float), name="actual close",
                             line=dict(color=ACTUAL, width=2)), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=frame["last_close"].to_numpy(float), name="naive (last close)",
                             line=dict(color=NAIVE, width=1.2, dash="dot")), row=1, col=1)
    for i, (column, label) in enumerate(roles):
        fig.add_trace(go.Scatter(x=x, y=frame[column].to_numpy(float), name=label,
                                 line=dict(color=PALETTE[i], width=1.4)), row=1, col=1)
    if rows == 2:
        actual = frame["actual_close"].to_numpy(float)
        champion, challenger = (frame[c].to_numpy(float) for c, _ in roles[:2])
        diff = np.cumsum((challenger - actual) ** 2 - (champion - actual) ** 2)
        fig.add_trace(go.Scatter(x=x, y=diff, name="cumulative SE: challenger - champion",
                                 line=dict(color=PALETTE[2], width=1.5)), row=2, col=1)
        fig.update_yaxes(title_text="cum. SE diff", row=2, col=1)
    fig.update_yaxes(title_text="close", row=1, col=1)
    fig.update_xaxes(title_text="target time (UTC)", row=rows, col=1)
    fig.update_layout(title=_title(title), **LAYOUT)
    return fig


def _params_text(params: dict | None) -> str:
    return "<br>".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in (params or {}).items())


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _nan(value) -> float:
    return float(value) if _finite(value) else float("nan")


def threshold_grid(grid: Sequence[tuple[float, float]], chosen: float, title: str) -> go.Figure:
    """The no-trade thresholds tried on the validation predictions and each one's validation Sharpe."""
    fig = go.Figure(go.Scatter(x=[g[0] for g in grid], y=[_nan(g[1]) for g in grid], mode="lines+markers",
                               name="validation Sharpe", line=dict(color=PALETTE[0])))
    fig.add_vline(x=chosen, line=dict(color=PALETTE[1], dash="dash"))
    fig.update_layout(title=_title(title), xaxis_title="threshold on the forecast log return",
                      yaxis_title="Sharpe (validation, annualised)", **{**LAYOUT, "hovermode": "closest"})
    return fig


def bars(labels: Sequence[str], values: Sequence[float | None], title: str, x_title: str,
         colors: Sequence[str] | None = None) -> go.Figure:
    """Horizontal bars, one per label, with a zero line."""
    fig = go.Figure(go.Bar(x=[_nan(v) for v in values], y=list(labels), orientation="h",
                           marker_color=list(colors) if colors else PALETTE[0]))
    fig.add_vline(x=0, line=dict(color=ACTUAL, width=1))
    fig.update_layout(title=_title(title), xaxis_title=x_title, **{**LAYOUT, "hovermode": "closest"},
                      height=max(260, 110 + 36 * len(labels)))
    fig.update_yaxes(autorange="reversed")
    return fig
