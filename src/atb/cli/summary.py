"""Tables that present a trained model's metadata."""

from __future__ import annotations

from rich.table import Table


def _fmt_p(p: float | None) -> str:
    if p is None or p != p:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def training_summary(meta: dict) -> Table:
    tp, ev, perf = meta["training_params"], meta["evaluation_results"], meta["performance"]
    synthetic = " [bold yellow](SYNTHETIC market)[/bold yellow]" if meta["data"].get("synthetic") else ""
    table = Table(
        title=f"{meta['symbol']} {tp['timeframe']} · {tp['architecture']} ({tp['architecture_variant']}) · "
              f"test {meta['data']['test']['start'][:16]} .. {meta['data']['test']['end'][:16]} "
              f"({ev['test_windows']} windows){synthetic}",
        title_justify="left",
    )
    for col in ("model", "RMSE", "MAE", "MAPE %", "dir. acc. % [95% CI]", "p (dir)", "DM vs naive (p)"):
        table.add_column(col, justify="right" if col != "model" else "left")
    lo, hi = ev["directional_accuracy_ci95"]
    dm = ev["dm_vs_naive"]
    table.add_row(tp["architecture"], f"{ev['test_rmse']:.4f}", f"{ev['test_mae']:.4f}", f"{ev['mape']:.3f}",
                  f"{ev['directional_accuracy']:.1f} [{lo:.1f}, {hi:.1f}]", _fmt_p(ev["directional_p_value"]),
                  f"{dm['statistic']:+.2f} ({_fmt_p(dm['p_value'])})")
    table.add_row("naive (last close)", f"{ev['naive_test_rmse']:.4f}", f"{ev['naive_test_mae']:.4f}",
                  f"{ev['naive_mape']:.3f}", "—", "—", "—", style="dim")
    skill = ev["rmse_skill_vs_naive"] * 100
    verdict = "beats" if skill > 0 and dm["p_value"] < 0.05 else "does not significantly beat"
    table.caption = (
        f"RMSE skill vs naive {skill:+.2f}% ({tp['architecture']} {verdict} naive persistence) · "
        f"forecast up {ev.get('predicted_up_pct', float('nan')):.0f}% of windows, actual up "
        f"{ev.get('actual_up_pct', float('nan')):.0f}% · "
        f"fit {perf['training_time_s']:.1f}s, {tp['epochs_run']} epochs (best {tp['best_epoch']}) · "
        f"ONNX p50 {perf['inference_ms_p50']:.3f} ms · {perf['parameters']:,} params · "
        f"parity {meta['onnx']['max_abs_diff']:.1e}"
    )
    table.caption_justify = "left"
    return table


def _pct(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:+.1f}%"


def comparison_table(comp, title: str) -> Table:
    table = Table(title=f"{title} · {comp.windows} test windows {comp.start} .. {comp.end}", title_justify="left")
    cols = ("model", "RMSE", "MAE", "MAPE %", "dir. acc. % [95% CI]", "fit s", "ONNX p50 ms", "params",
            "RMSE vs base", "DM p vs base", "DM p vs naive")
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in comp.rows:
        m = r.metrics
        lo, hi = m["directional_accuracy_ci95"]
        da = "—" if r.is_naive else f"{m['directional_accuracy']:.1f} [{lo:.1f}, {hi:.1f}]"
        label = r.label + (" (baseline)" if r.is_baseline else "")
        table.add_row(
            label, f"{m['test_rmse']:.4f}", f"{m['test_mae']:.4f}", f"{m['mape']:.3f}", da,
            "—" if r.training_time_s is None else f"{r.training_time_s:.1f}",
            "—" if r.inference_ms_p50 is None else f"{r.inference_ms_p50:.3f}",
            "—" if r.parameters is None else f"{r.parameters:,}",
            "—" if r.is_baseline else _pct(r.rmse_improvement_pct),
            _fmt_p(r.dm_vs_baseline["p_value"]) if r.dm_vs_baseline else "—",
            "—" if r.is_naive else _fmt_p(m["dm_vs_naive"]["p_value"]),
            style="dim" if r.is_naive else None,
        )
    return table


def comparison_lines(comp) -> list[str]:
    """The guide's "Comparison vs CNN-LSTM Baseline" block, with significance, and the naive verdict."""
    from atb.evaluation.comparison import SIGNIFICANCE, guide_verdict

    lines = []
    if comp.baseline:
        lines += ["", f"Comparison vs {comp.baseline} baseline:", "-" * 50]
        for r in comp.rows:
            if r.is_baseline or r.is_naive:
                continue
            p = r.dm_vs_baseline["p_value"] if r.dm_vs_baseline else None
            lines += [f"{r.label}:", f"  RMSE Improvement: {_pct(r.rmse_improvement_pct)}",
                      f"  {guide_verdict(r.rmse_improvement_pct, p)}"]
    beats = [r.label for r in comp.rows if not r.is_naive and r.metrics["rmse_skill_vs_naive"] > 0
             and r.metrics["dm_vs_naive"]["p_value"] < SIGNIFICANCE]
    lines.append("")
    lines.append(
        f"Beats naive persistence (lower RMSE, DM p < {SIGNIFICANCE}): {', '.join(beats)}" if beats
        else f"No model beats naive persistence significantly (DM p < {SIGNIFICANCE}) on these windows."
    )
    lines += [f"Note: {n}" for n in comp.notes]
    return lines


def comparison_to_dict(comp) -> dict:
    from dataclasses import asdict

    return {"windows": comp.windows, "start": comp.start, "end": comp.end, "baseline": comp.baseline,
            "notes": comp.notes, "rows": [asdict(r) for r in comp.rows]}
