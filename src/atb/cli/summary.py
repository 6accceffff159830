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
    for col in ("model", "RMSE", "MAE", "MAPE %", "dir. acc. % [95% CI]", "up % fc/act", "PT p", "DM vs naive (p)"):
        table.add_column(col, justify="right" if col != "model" else "left")
    lo, hi = ev["directional_accuracy_ci95"]
    dm = ev["dm_vs_naive"]
    p_one = dm.get("p_value_one_sided")
    table.add_row(tp["architecture"], f"{ev['test_rmse']:.4f}", f"{ev['test_mae']:.4f}", f"{ev['mape']:.3f}",
                  f"{ev['directional_accuracy']:.1f} [{lo:.1f}, {hi:.1f}]",
                  f"{_fmt0(ev.get('predicted_up_pct'))}/{_fmt0(ev.get('actual_up_pct'))}",
                  _fmt_p(ev.get("directional_pt_p_value")), f"{dm['statistic']:+.2f} ({_fmt_p(p_one)})")
    table.add_row("naive (last close)", f"{ev['naive_test_rmse']:.4f}", f"{ev['naive_test_mae']:.4f}",
                  f"{ev['naive_mape']:.3f}", "—", f"—/{_fmt0(ev.get('actual_up_pct'))}", "—", "—", style="dim")
    skill = ev["rmse_skill_vs_naive"] * 100
    beats = skill > 0 and p_one is not None and p_one < 0.05
    verdict = "beats" if beats else ("is worse than" if skill < 0 else "does not significantly beat")
    excluded = ev.get("directional_excluded")
    caption = [
        f"RMSE skill vs naive {skill:+.2f}% ({tp['architecture']} {verdict} naive persistence; DM one-sided p, "
        "H1: lower loss; a negative statistic means smaller squared errors)",
        "dir. acc. over moves with a direction" + (f" ({excluded} flat moves left out)" if excluded else "")
        + "; up % fc/act: forecast and market up-rates; PT p: Pesaran-Timmermann, H1: better than those rates give",
        f"fit {perf['training_time_s']:.1f}s, {tp['epochs_run']} epochs (best {tp['best_epoch']}) · "
        f"ONNX p50 {perf['inference_ms_p50']:.3f} ms · {perf['parameters']:,} params · "
        f"parity {meta['onnx']['max_abs_diff']:.1e}",
    ]
    if ev.get("collapsed"):
        caption.append(f"[bold red]⚠ collapsed forecast:[/bold red] {ev.get('collapse_reason', '')}")
    table.caption = "\n".join(caption)
    table.caption_justify = "left"
    return table


def _fmt0(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:.0f}"


def _pct(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:+.1f}%"


def comparison_table(comp, title: str) -> Table:
    from atb.benchmark.report import COLUMNS, comparison_cells

    table = Table(title=f"{title} · {comp.windows} test windows {comp.start} .. {comp.end}", title_justify="left")
    for col in COLUMNS:
        table.add_column(col, justify="left" if col == "model" else "right")
    for r, cells in zip(comp.rows, comparison_cells(comp), strict=True):
        table.add_row(*cells, style="dim" if r.is_naive else None)
    return table


def comparison_lines(comp) -> list[str]:
    """The guide's "Comparison vs CNN-LSTM Baseline" block, with significance, and the naive verdict."""
    from atb.benchmark.report import TABLE_NOTES
    from atb.evaluation.comparison import SIGNIFICANCE, guide_verdict

    lines = []
    if comp.baseline:
        lines += ["", f"Comparison vs {comp.baseline} baseline:", "-" * 50]
        for r in comp.rows:
            if r.is_baseline or r.is_naive:
                continue
            p = r.dm_vs_baseline.get("p_value_one_sided") if r.dm_vs_baseline else None
            lines += [f"{r.label}:", f"  RMSE Improvement: {_pct(r.rmse_improvement_pct)}",
                      f"  {guide_verdict(r.rmse_improvement_pct, p)}"]
    beats = [r.label for r in comp.rows if not r.is_naive and r.metrics["rmse_skill_vs_naive"] > 0
             and r.metrics["dm_vs_naive"].get("p_value_one_sided", 1.0) < SIGNIFICANCE]
    lines.append("")
    lines.append(
        f"Beats naive persistence (lower RMSE, one-sided DM p < {SIGNIFICANCE}): {', '.join(beats)}" if beats
        else f"No model beats naive persistence significantly (one-sided DM p < {SIGNIFICANCE}) on these windows."
    )
    lines += [f"Note: {n}" for n in (*TABLE_NOTES, *comp.notes)]
    return lines


def comparison_to_dict(comp) -> dict:
    from dataclasses import asdict

    return {"windows": comp.windows, "start": comp.start, "end": comp.end, "baseline": comp.baseline,
            "notes": comp.notes, "rows": [asdict(r) for r in comp.rows]}
