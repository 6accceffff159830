"""Placebo: the same pipeline on a market with no signal (a random walk with volatility clustering and fat
tails). No architecture may show significant skill over naive persistence after a Holm correction across the
architectures; one that does is learning something that is not in the past (leakage) or is scored wrongly."""

from __future__ import annotations

from atb.doctor.result import CheckResult, Status
from atb.doctor.runs import Score
from atb.doctor.shared import p_text, pct

ALPHA = 0.05  # family-wise, across the architectures (Holm)


def chance_note(tests: int) -> str:
    return (f"Placebo: each one-sided DM test at alpha {ALPHA} would flag a model without skill 5% of the time; "
            f"Holm's correction across the {tests} architecture(s) keeps the chance that any of them is flagged "
            f"(the family-wise false-positive rate) at or below {ALPHA:.0%}.")


def placebo_checks(scores: dict[str, Score]) -> list[CheckResult]:
    from statsmodels.stats.multitest import multipletests  # deferred: statsmodels is slow to import

    labels = list(scores)
    reject, adjusted, _, _ = multipletests([scores[k].p_vs_naive for k in labels], alpha=ALPHA, method="holm")
    out = []
    for label, flagged, p_holm in zip(labels, reject, adjusted, strict=True):
        s = scores[label]
        line = (f"skill {pct(s.skill, sign=True)} vs naive on a market with no signal ({s.windows} test windows"
                f"{f', {s.seeds} seeds pooled' if s.seeds > 1 else ''}); "
                f"DM p {p_text(s.p_vs_naive)}, Holm-adjusted {p_text(float(p_holm))}; dir. acc. {s.accuracy:.1f}%")
        figures = {**s.to_dict(), "p_holm": float(p_holm), "alpha": ALPHA, "tests": len(labels)}
        if flagged:
            out.append(CheckResult("placebo", label, Status.FAIL, line, figures,
                                   "significant skill where there is none to find: the inputs hold the future "
                                   "(leakage), or the forecasts are compared with the wrong closes"))
        else:
            out.append(CheckResult("placebo", label, Status.PASS, line, figures))
    return out
