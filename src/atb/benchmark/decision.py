"""The guide's Decision Matrix (Scenarios 1-5), applied to benchmark results with the significance it leaves out.

Input: the summary rows as flat dicts (``Summary.to_dict()["rows"]``), each with ``label``, ``architecture``,
``variant``, ``is_baseline``, ``is_naive``, ``test_rmse``, ``rmse_improvement_pct``, ``training_time_s``,
``dm_p_vs_baseline`` and ``dm_p_vs_naive``. Rules:

- Attention-LSTM (its default variant, else the first one benchmarked) vs the CNN-LSTM baseline, by RMSE
  improvement: >= 10% -> Scenario 1, 5-10% -> 2, 0-5% -> 3, <= 0 -> 4.
- Scenarios 1 and 2 claim an improvement: without DM p < 0.05 on the pooled test windows they fall back
  to Scenario 3 ("treat as Scenario 3/4").
- Scenario 5 applies in addition when a TCN trains clearly fastest (at most FAST_RATIO of every other
  architecture's time, and faster by more than the two std's across seeds) and its RMSE is within 5% of the
  best model's.
- Separately: does any model beat naive persistence (lower RMSE and DM p < 0.05)?
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

SIGNIFICANCE = 0.05
FAST_RATIO = 0.75  # "clearly the fastest": at least a quarter faster than the next architecture
SIMILAR_RMSE = 0.05  # "accuracy similar": within 5% of the best RMSE


@dataclass(frozen=True)
class Scenario:
    number: int
    title: str
    action: str
    steps: tuple[str, ...]
    why: str


# The guide's wording, verbatim.
SCENARIOS = {
    1: Scenario(1, "Attention-LSTM shows 10%+ improvement", "PROCEED TO PHASE 2",
                ("Implement ensemble stacking", "Deploy best model to production", "Set up A/B testing"),
                "Clear evidence of improvement, worth investing in ensemble"),
    2: Scenario(2, "Attention-LSTM shows 5-10% improvement", "CONDITIONAL",
                ("If training time acceptable → Proceed to Phase 2",
                 "If need more evidence → Train on longer data (90-365 days)", "Consider production deployment"),
                "Good improvement, but verify on longer timeframes"),
    3: Scenario(3, "Marginal improvement (<5%)", "INVESTIGATE",
                ("Try different hyperparameters (deep variant)", "Train on longer data (90-365 days)",
                 "Check data quality", "Review feature engineering", "Consider TCN for speed benefits"),
                "Results don't match research expectations, investigate causes"),
    4: Scenario(4, "No improvement or degradation", "DEBUG",
                ("Check data quality and preprocessing", "Verify model implementations", "Review hyperparameters",
                 "Ensure proper train/val/test split", "Check for bugs in feature engineering"),
                "Results contradict research, likely implementation issue"),
    5: Scenario(5, "TCN is fastest but accuracy similar", "USE FOR SPEED-CRITICAL APPLICATIONS",
                ("Deploy TCN for real-time inference", "Use Attention-LSTM for batch predictions",
                 "Consider TCN+Attention hybrid"),
                "TCN provides speed benefits even with similar accuracy"),
}


@dataclass
class Decision:
    scenario: int | None  # 1-4 after the significance check; None: the matrix cannot be applied
    nominal_scenario: int | None  # by the improvement percentage alone
    reason: str
    scenario_5: bool = False
    scenario_5_reason: str = ""
    improvement_pct: float | None = None
    p_value: float | None = None
    significant: bool | None = None
    beats_naive: list[str] = field(default_factory=list)
    naive_statement: str = ""
    caveats: list[str] = field(default_factory=list)
    smoke_test: bool = False

    @property
    def headline(self) -> str:
        prefix = "SMOKE TEST ONLY, do not act on it - " if self.smoke_test else ""
        if self.scenario is None:
            return f"{prefix}UNDETERMINED: the decision matrix cannot be applied"
        s = SCENARIOS[self.scenario]
        label = "3/4" if self.nominal_scenario in (1, 2) and self.scenario == 3 else str(self.scenario)
        extra = f"; also Scenario 5: {SCENARIOS[5].action}" if self.scenario_5 else ""
        return f"{prefix}{s.action}: Scenario {label} - {s.title}{extra}"

    def lines(self) -> list[str]:
        """The decision as plain text: headline, reason, the guide's actions and why, then the caveats."""
        out = [f"Decision: {self.headline}", f"Reason: {self.reason}"]
        chosen = [self.scenario] if self.scenario is not None else []
        if self.scenario_5:
            chosen.append(5)
        for number in chosen:
            s = SCENARIOS[number]
            out.append(f"Scenario {number} ({s.title}) - Action: {s.action}")
            out += [f"  - {step}" for step in s.steps]
            out.append(f"  Why: {s.why}")
        if self.scenario_5_reason:
            out.append(f"TCN: {self.scenario_5_reason}")
        out.append(self.naive_statement)
        out += [f"Caveat: {c}" for c in self.caveats]
        return out

    def to_dict(self) -> dict:
        return {**asdict(self), "headline": self.headline, "text": "\n".join(self.lines())}


def decide(rows: list[dict], smoke_test: bool = False) -> Decision:
    models = [r for r in rows if not r.get("is_naive")]
    naive = next((r for r in rows if r.get("is_naive")), None)
    decision = _attention_vs_baseline(models)
    decision.beats_naive = [r["label"] for r in models if _beats_naive(r, naive)]
    decision.naive_statement = (
        f"Beats naive persistence (lower RMSE and DM p < {SIGNIFICANCE}): {', '.join(decision.beats_naive)}."
        if decision.beats_naive else
        f"No model beats naive persistence (next close = last close) with DM p < {SIGNIFICANCE}."
    )
    decision.scenario_5, decision.scenario_5_reason = _tcn_is_fast_and_similar(models)
    if not decision.beats_naive and decision.scenario in (1, 2):
        decision.caveats.append("no model beats naive persistence: an improvement over the baseline is not yet "
                                "evidence of forecasting skill; do not deploy on this result alone")
    elif not decision.beats_naive and decision.scenario in (3, 4):
        decision.caveats.append("no model beats naive persistence either: on this data the next bar may simply "
                                "not be predictable from the features, so besides the guide's debugging steps "
                                "check that the models do learn a learnable signal (pytest tests/benchmark)")
    decision.smoke_test = smoke_test
    if smoke_test:
        decision.caveats.append("quick mode is a smoke test (7 days, 5 epochs by default): it shows that every "
                                "model trains, not which one is better; run --full before deciding")
    return decision


def _attention_vs_baseline(models: list[dict]) -> Decision:
    baseline = next((r for r in models if r.get("is_baseline")), None)
    attention = [r for r in models if r["architecture"] == "attention_lstm"]
    if baseline is None:
        return Decision(None, None, "no CNN-LSTM baseline result (not benchmarked, or every baseline run failed)")
    if not attention:
        return Decision(None, None, "no Attention-LSTM result (not benchmarked, or every run failed)")
    att = next((r for r in attention if r["variant"] == "default"), attention[0])
    imp, p = _num(att.get("rmse_improvement_pct")), _num(att.get("dm_p_vs_baseline"))
    if imp is None:
        return Decision(None, None, f"{att['label']}: no RMSE improvement vs {baseline['label']} could be computed")
    nominal = 1 if imp >= 10 else 2 if imp >= 5 else 3 if imp > 0 else 4
    significant = p is not None and p < SIGNIFICANCE
    p_text = "n/a" if p is None else _fmt_p(p)
    what = (f"{att['label']} RMSE {'improvement' if imp > 0 else 'change'} vs {baseline['label']} is "
            f"{imp:+.1f}% (DM p={p_text} on the pooled test windows)")
    if nominal in (1, 2) and not significant:
        reason = (f"{what}; the {imp:.0f}% improvement is not statistically significant (p={p_text}): "
                  "treat as Scenario 3/4")
        return Decision(3, nominal, reason, improvement_pct=imp, p_value=p, significant=False)
    if nominal == 3 and not significant:
        reason = f"{what}; marginal and not statistically significant: no evidence of an improvement"
    elif nominal == 4 and significant:
        reason = f"{what}; significantly worse than the baseline"
    elif nominal == 4:
        reason = f"{what}; no improvement"
    else:
        reason = f"{what}; statistically significant"
    return Decision(nominal, nominal, reason, improvement_pct=imp, p_value=p, significant=significant)


def _tcn_is_fast_and_similar(models: list[dict]) -> tuple[bool, str]:
    tcns = [r for r in models if r["architecture"] == "tcn" and _num(r.get("training_time_s")) is not None]
    others = [r for r in models if r["architecture"] != "tcn" and _num(r.get("training_time_s")) is not None]
    rmses = [_num(r.get("test_rmse")) for r in models if _num(r.get("test_rmse")) is not None]
    if not tcns or not others or not rmses:
        return False, ""
    best_rmse = min(rmses)
    fastest_other = min(others, key=lambda r: r["training_time_s"])
    notes = []
    for tcn in sorted(tcns, key=lambda r: r["training_time_s"]):
        ratio = tcn["training_time_s"] / fastest_other["training_time_s"]
        gap = (tcn["test_rmse"] - best_rmse) / best_rmse
        # With seeds, "clearly" also means the gap is larger than the run-to-run noise (one std each).
        noise = (_num(tcn.get("training_time_s_std")) or 0) + (_num(fastest_other.get("training_time_s_std")) or 0)
        fast = ratio <= FAST_RATIO and tcn["training_time_s"] + noise < fastest_other["training_time_s"]
        similar = gap <= SIMILAR_RMSE
        text = (f"{tcn['label']} trains in {tcn['training_time_s']:.1f}s, {ratio:.2f}x the time of the fastest "
                f"other architecture ({fastest_other['label']}, {fastest_other['training_time_s']:.1f}s); its RMSE "
                f"is {100 * gap:.1f}% above the best")
        if fast and similar:
            return True, (f"{text} (clearly fastest: <= {FAST_RATIO}x and beyond the seeds' spread; "
                          "similar accuracy: within 5%): Scenario 5")
        why = [w for w, bad in (("not clearly the fastest", not fast), ("accuracy not within 5%", not similar))
               if bad]
        notes.append(f"{text}: no Scenario 5 ({', '.join(why)})")
    return False, notes[0]


def _beats_naive(row: dict, naive: dict | None) -> bool:
    rmse, p = _num(row.get("test_rmse")), _num(row.get("dm_p_vs_naive"))
    naive_rmse = _num(naive.get("test_rmse")) if naive else None
    if rmse is None or p is None:
        return False
    lower = rmse < naive_rmse if naive_rmse is not None else (_num(row.get("rmse_skill_vs_naive")) or 0) > 0
    return lower and p < SIGNIFICANCE


def _num(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _fmt_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"
