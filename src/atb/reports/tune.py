"""`atb tune show --html FILE`: a search's page from the summary dict that `atb tune show` builds (keys: study,
storage, direction, trials: [{number, state, value, params, datetime_start, datetime_complete, user_attrs}],
best: {number, value, params} or None, importances: {param: float}): the best trial first, the optimisation
history (each trial's objective, the best so far, pruned and failed trials marked), the parameter importances,
every trial and the provenance."""

from __future__ import annotations

import math
from pathlib import Path

from atb.reports import figures
from atb.reports.html import figure_html, provenance, render_page, table

TEMPLATE = "tune.html.j2"
STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")  # optuna.trial.TrialState names
STATE_WORDS = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
               "WAITING": "waiting"}


def write_tune_report(summary: dict, path: Path, synthetic: bool = False) -> Path:
    trials = list(summary.get("trials") or [])
    direction = str(summary.get("direction") or "minimize").lower()
    best = summary.get("best")
    tag = " — SYNTHETIC" if synthetic else ""
    trials = [{**t, "state": _state(t.get("state"))} for t in trials]
    counts = {s: sum(t["state"] == s for t in trials) for s in STATES}
    charts = []
    if trials:
        charts.append(figure_html(figures.history(trials, direction, f"Optimisation history{tag}"), height=420))
    importances = {k: float(v) for k, v in (summary.get("importances") or {}).items() if _finite(v)}
    if importances:
        charts.append(figure_html(figures.importances(importances, f"Parameter importances{tag}")))
    params = sorted({k for t in trials for k in (t.get("params") or {})})
    rows = [[str(t.get("number")), t["state"], _value(t.get("value")),
             *(_param((t.get("params") or {}).get(k)) for k in params), _time(t.get("datetime_start")),
             _duration(t)] for t in trials]
    headline = ("No finished trial yet: no best configuration." if not best else
                f"Best trial #{best['number']}: objective {_value(best.get('value'))} ({direction}) with "
                + ", ".join(f"{k}={_param(v)}" for k, v in (best.get("params") or {}).items()))
    lines = [f"{len(trials)} trials: " + ", ".join(f"{n} {STATE_WORDS[s]}" for s, n in counts.items() if n),
             "The objective is a validation loss: the winner is scored on test once, against the default "
             "configuration on the same target times (atb tune's protocol)."]
    if importances:
        top = max(importances, key=importances.get)
        lines.append(f"Most important parameter: {top} (importance {importances[top]:.2f})")
    return render_page(
        TEMPLATE, path, title=f"Search: {summary.get('study', 'study')}" + (" (SYNTHETIC)" if synthetic else ""),
        synthetic=synthetic, headline=headline, lines=lines, charts=charts,
        trials=table(["#", "state", "value", *params, "started", "duration s"], rows, left=("state", "started")),
        provenance=provenance(study=summary.get("study"), storage=summary.get("storage"), direction=direction,
                              **{k: v for k, v in (summary.get("provenance") or {}).items()}))


def _state(value) -> str:
    """A trial state as its TrialState name, whether given as "COMPLETE", "complete" or "TrialState.COMPLETE"."""
    return str(getattr(value, "name", value)).rsplit(".", 1)[-1].upper()


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _value(value) -> str:
    return f"{value:.6g}" if _finite(value) else "—"


def _param(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _time(value) -> str:
    return "—" if not value else str(value)[:19].replace("T", " ")


def _duration(trial: dict) -> str:
    from datetime import datetime

    start, end = trial.get("datetime_start"), trial.get("datetime_complete")
    try:
        start, end = (v if isinstance(v, datetime) else datetime.fromisoformat(str(v).replace("Z", "+00:00"))
                      for v in (start, end))
        return f"{(end - start).total_seconds():.1f}"
    except (TypeError, ValueError):
        return "—"
