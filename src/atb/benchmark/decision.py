"""The guide's Decision Matrix (Scenarios 1-5), applied to benchmark results with the significance it leaves out.

Input: the summary rows as flat dicts (``Summary.to_dict()["rows"]``), each with ``label``, ``architecture``,
``variant``, ``is_baseline``, ``is_naive``, ``test_rmse``, ``rmse_improvement_pct`` (pooled over seeds and
windows: the quantity the DM test is on) and its per-seed values ``rmse_improvement_pct_seeds``,
``dm_p_one_sided_vs_baseline`` (H1: lower loss than the baseline), ``rmse_skill_vs_naive`` (+ ``_seeds``),
``dm_p_one_sided_vs_naive``, ``fit_s_per_1k_windows`` (+ ``_std``) and ``inference_ms_p50``. Rules:

- Attention-LSTM (its default variant, else the first one benchmarked) vs the CNN-LSTM baseline, by RMSE
  improvement: >= 10% -> Scenario 1, 5-10% -> 2, 0-5% -> 3, <= 0 -> 4.
- "Better" is claimed only with the one-sided DM test (p < 0.05, in the claimed direction) and the same sign
  in every seed. Scenarios 1 and 2 without that fall back to Scenario 3 ("treat as Scenario 3/4"); "worse"
  is said only with the opposite one-sided test and the sign in every seed.
- A run too small to decide (a smoke test, or fewer than MIN_DECISION_WINDOWS test windows) gets no
  scenario's actions or reasons: it says so and shows the nominal reading only.
- Scenario 5 applies in addition when a TCN trains clearly fastest per 1,000 training windows processed
  (total fit time is dominated by when early stopping ends it) -- at most FAST_RATIO of every other
  architecture's time and faster by more than the two std's across seeds -- and its RMSE is within 5% of
  the best model's. ONNX p50 latency is shown beside it.
- Separately: does any model beat naive persistence (lower RMSE, one-sided DM p < 0.05, every seed)?
- With `--ensemble`: the stacking ensemble against the best single model, decided on validation
  (benchmark.ensembles.versus_best_single): "better" on the same terms (one-sided DM p < 0.05, every seed). The
  guide's matrix (Scenarios 1-5) is about the architectures and leaves the ensemble row out.
- And the economic verdict, from the trading section (benchmark.trading: ``backtest_psr_vs_buy_and_hold``,
  ``backtest_sharpe_seeds``, ``backtest_buy_and_hold_sharpe``): a model "beats buy-and-hold after costs" only when
  the PSR of its seed-averaged net returns against buy-and-hold's Sharpe on the same bars exceeds
  ECONOMIC_PSR (0.95) and its Sharpe is above buy-and-hold's in every seed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from atb.ensemble import is_ensemble
from atb.evaluation.metric_table import fmt_p
from atb.models import registry as architectures

SIGNIFICANCE = 0.05
FAST_RATIO = 0.75  # "clearly the fastest": at least a quarter faster than the next architecture
SIMILAR_RMSE = 0.05  # "accuracy similar": within 5% of the best RMSE
MIN_DECISION_WINDOWS = 100  # fewer pooled test windows cannot tell models apart on 1h returns
ECONOMIC_PSR = 0.95  # "beats buy-and-hold after costs": P(its true Sharpe > buy-and-hold's) above this
# Scenarios 3 and 4 ask to check the data, the models, the split and the features: atb's doctor does that.
DOCTOR_SCENARIOS = (3, 4)
DOCTOR_STEP = ("atb: tell an efficient market from a bug with `atb doctor SYMBOL --data-file FILE --quick` (or the "
               "benchmark's --doctor): data quality, a planted signal the models must learn, a placebo, a leakage "
               "canary, a version audit")


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
    p_value: float | None = None  # one-sided DM p-value in the direction of the improvement's sign
    significant: bool | None = None
    beats_naive: list[str] = field(default_factory=list)
    naive_statement: str = ""
    caveats: list[str] = field(default_factory=list)
    smoke_test: bool = False
    too_small: str = ""  # why this run cannot decide anything ("" when it can)
    economic: list[dict] = field(default_factory=list)  # per model: label, beats, psr, seeds_above, seeds
    economic_statement: str = ""
    ensemble: dict | None = None  # benchmark.ensembles.versus_best_single, and "better": the claim's verdict
    ensemble_statement: str = ""

    @property
    def decided(self) -> bool:
        return self.scenario is not None and not self.too_small

    @property
    def headline(self) -> str:
        prefix = "SMOKE TEST ONLY, do not act on it - " if self.smoke_test else ""
        if self.scenario is None:
            return f"{prefix}UNDETERMINED: the decision matrix cannot be applied"
        if self.too_small:
            return f"{prefix}NO DECISION: {self.too_small}"
        s = SCENARIOS[self.scenario]
        label = "3/4" if self.nominal_scenario in (1, 2) and self.scenario == 3 else str(self.scenario)
        extra = f"; also Scenario 5: {SCENARIOS[5].action}" if self.scenario_5 else ""
        return f"{prefix}{s.action}: Scenario {label} - {s.title}{extra}{self._economic_headline()}"

    def _economic_headline(self) -> str:
        """The economic verdict beside the forecast verdict: "; beats buy-and-hold after costs: no (PSR 0.41)"."""
        known = [e for e in self.economic if e["psr"] is not None]
        if not known:
            return ""
        winners = [e for e in known if e["beats"]]
        if winners:
            return "; beats buy-and-hold after costs: " + ", ".join(f"{e['label']} (PSR {e['psr']:.2f})"
                                                                     for e in winners)
        best = max(known, key=lambda e: e["psr"])
        which = f", {best['label']}" if len(known) > 1 else ""
        return f"; beats buy-and-hold after costs: no (PSR {best['psr']:.2f}{which})"

    def lines(self) -> list[str]:
        """The decision as plain text: headline, reason, the guide's actions and reading, then the caveats."""
        out = [f"Decision: {self.headline}", f"Reason: {self.reason}"]
        chosen = [self.scenario] if self.decided else []
        if self.decided and self.scenario_5:
            chosen.append(5)
        if self.too_small and self.scenario is not None:
            out.append(f"Nominal reading only (not a decision): Scenario {self.scenario} - "
                       f"{SCENARIOS[self.scenario].title}")
            if self.scenario in DOCTOR_SCENARIOS:
                out.append(f"  - {DOCTOR_STEP}")
        for number in chosen:
            s = SCENARIOS[number]
            out.append(f"Scenario {number} ({s.title}) - Action: {s.action}")
            out += [f"  - {step}" for step in s.steps]
            if number in DOCTOR_SCENARIOS:
                out.append(f"  - {DOCTOR_STEP}")
            out.append(f"  Why (the guide's reading): {s.why}")
        if self.scenario_5_reason:
            out.append(f"{_display(a for a in architectures.architectures() if a.speed_candidate)}: "
                       f"{self.scenario_5_reason}")
        out.append(self.naive_statement)
        if self.economic_statement:
            out.append(self.economic_statement)
        if self.ensemble_statement:
            out.append(self.ensemble_statement)
        out += [f"Caveat: {c}" for c in self.caveats]
        return out

    def to_dict(self) -> dict:
        return {**asdict(self), "headline": self.headline, "decided": self.decided, "text": "\n".join(self.lines())}


def decide(rows: list[dict], smoke_test: bool = False, windows: int | None = None,
           ensemble: dict | None = None) -> Decision:
    """``windows``: the pooled test windows every model was scored on (None: not known, not checked);
    ``ensemble``: the ensemble vs the best single model (benchmark.ensembles.versus_best_single), if one was built."""
    models = [r for r in rows if not r.get("is_naive")]
    naive = next((r for r in rows if r.get("is_naive")), None)
    singles = [r for r in models if not is_ensemble(r.get("architecture"))]  # the guide's matrix: architectures
    decision = _challenger_vs_baseline(singles)
    decision.beats_naive = [r["label"] for r in models if _beats_naive(r, naive)]
    decision.naive_statement = (
        f"Beats naive persistence (lower RMSE, one-sided DM p < {SIGNIFICANCE}, lower in every seed): "
        f"{', '.join(decision.beats_naive)}." if decision.beats_naive else
        f"No model beats naive persistence (next close = last close) with one-sided DM p < {SIGNIFICANCE}."
    )
    decision.scenario_5, decision.scenario_5_reason = _speed_candidate_is_fast_and_similar(singles)
    if ensemble is not None:
        decision.ensemble, decision.ensemble_statement = _ensemble_verdict(ensemble)
    decision.economic = [_economic(r) for r in models]
    decision.economic_statement = _economic_statement(decision.economic)
    decision.smoke_test = smoke_test
    if smoke_test:
        decision.too_small = (f"a smoke test ({windows} test windows)" if windows else "a smoke test") + (
            " shows that every model trains, exports and evaluates, not which one is better; run --full")
    elif windows is not None and windows < MIN_DECISION_WINDOWS:
        decision.too_small = (f"only {windows} pooled test windows (fewer than {MIN_DECISION_WINDOWS}): too few to "
                              "tell the models apart; ask for more --days or --walk-forward folds")
    if decision.too_small:
        return decision
    if not decision.beats_naive and decision.scenario in (1, 2):
        decision.caveats.append("no model beats naive persistence: an improvement over the baseline is not yet "
                                "evidence of forecasting skill; do not deploy on this result alone")
    elif not decision.beats_naive and decision.scenario in (3, 4):
        decision.caveats.append("no model beats naive persistence either: on this data the next bar may simply "
                                "not be predictable from the features, which is not by itself an implementation "
                                "issue; check that the models do learn a learnable signal (atb doctor)")
    return decision


def _challenger_vs_baseline(models: list[dict]) -> Decision:
    baseline = next((r for r in models if r.get("is_baseline")), None)
    names = {a.name for a in architectures.architectures() if a.challenger}
    rows = [r for r in models if r["architecture"] in names]
    if baseline is None:
        return Decision(None, None, f"no {architectures.baseline().display} baseline result (not benchmarked, or "
                                    "every baseline run failed)")
    if not rows:
        return Decision(None, None, f"no {_display(architectures.get(n) for n in names)} result (not "
                                    "benchmarked, or every run failed)")
    row = next((r for r in rows if r["variant"] == "default"), rows[0])
    imp = _num(row.get("rmse_improvement_pct"))
    if imp is None:
        return Decision(None, None, f"{row['label']}: no RMSE improvement vs {baseline['label']} could be computed")
    nominal = 1 if imp >= 10 else 2 if imp >= 5 else 3 if imp > 0 else 4
    better = _claim(imp, row.get("rmse_improvement_pct_seeds"), _num(row.get("dm_p_one_sided_vs_baseline")))
    worse = _claim(-imp, [None if v is None else -v for v in row.get("rmse_improvement_pct_seeds") or []] or None,
                   _complement(_num(row.get("dm_p_one_sided_vs_baseline"))))
    p = better.p if imp > 0 else worse.p
    what = (f"{row['label']} RMSE {'improvement' if imp > 0 else 'change'} vs {baseline['label']} is {imp:+.1f}% "
            f"(pooled over seeds and windows; one-sided DM p={fmt_p(p)} for {'lower' if imp > 0 else 'higher'} "
            f"loss{better.seed_text if imp > 0 else worse.seed_text})")
    if nominal in (1, 2) and not better.holds:
        reason = f"{what}; the {imp:.0f}% improvement is not established ({better.why}): treat as Scenario 3/4"
        return Decision(3, nominal, reason, improvement_pct=imp, p_value=p, significant=False)
    if nominal == 3:
        reason = f"{what}; " + ("statistically significant but marginal" if better.holds else
                                f"marginal and not established ({better.why}): no evidence of an improvement")
    elif nominal == 4:
        reason = f"{what}; " + ("significantly worse than the baseline" if worse.holds else
                                "no improvement (not significantly worse either)")
    else:
        reason = f"{what}; statistically significant in every seed"
    significant = better.holds if imp > 0 else worse.holds
    return Decision(nominal, nominal, reason, improvement_pct=imp, p_value=p, significant=significant)


@dataclass(frozen=True)
class _Claim:
    holds: bool
    p: float | None
    why: str  # what is missing when it does not hold
    seed_text: str


def _claim(pooled: float, seeds: list | None, p_one_sided: float | None) -> _Claim:
    """A claim that the pooled value is > 0: the one-sided test in that direction and the sign in every seed."""
    values = [v for v in (seeds or []) if v is not None]
    every = all(v > 0 for v in values) if values else pooled > 0
    seed_text = (f"; {sum(v > 0 for v in values)} of {len(values)} seeds in that direction"
                 if len(values) > 1 else "")
    significant = p_one_sided is not None and p_one_sided < SIGNIFICANCE
    missing = [w for w, bad in ((f"one-sided p={fmt_p(p_one_sided)} >= {SIGNIFICANCE}", not significant),
                                ("not in every seed", not every)) if bad]
    return _Claim(pooled > 0 and significant and every, p_one_sided, ", ".join(missing), seed_text)


def _speed_candidate_is_fast_and_similar(models: list[dict]) -> tuple[bool, str]:
    key = "fit_s_per_1k_windows"
    names = {a.name for a in architectures.architectures() if a.speed_candidate}
    candidates = [r for r in models if r["architecture"] in names and _num(r.get(key)) is not None]
    others = [r for r in models if r["architecture"] not in names and _num(r.get(key)) is not None]
    rmses = [_num(r.get("test_rmse")) for r in models if _num(r.get("test_rmse")) is not None]
    if not candidates or not others or not rmses:
        return False, ""
    best_rmse = min(rmses)
    fastest_other = min(others, key=lambda r: r[key])
    notes = []
    for row in sorted(candidates, key=lambda r: r[key]):
        ratio = row[key] / fastest_other[key]
        gap = (row["test_rmse"] - best_rmse) / best_rmse
        # With seeds, "clearly" also means the gap is larger than the run-to-run noise (one std each).
        noise = (_num(row.get(f"{key}_std")) or 0) + (_num(fastest_other.get(f"{key}_std")) or 0)
        fast = ratio <= FAST_RATIO and row[key] + noise < fastest_other[key]
        similar = gap <= SIMILAR_RMSE
        text = (f"{row['label']} fits 1,000 training windows in {row[key]:.3f}s, {ratio:.2f}x the time of the fastest "
                f"other architecture ({fastest_other['label']}, {fastest_other[key]:.3f}s; criterion: fit time per "
                f"1,000 training windows processed){_latency_text(row, fastest_other)}; its RMSE is "
                f"{100 * gap:.1f}% above the best")
        if fast and similar:
            return True, (f"{text} (clearly fastest: <= {FAST_RATIO}x and beyond the seeds' spread; "
                          "similar accuracy: within 5%): Scenario 5")
        why = [w for w, bad in (("not clearly the fastest", not fast), ("accuracy not within 5%", not similar))
               if bad]
        notes.append(f"{text}: no Scenario 5 ({', '.join(why)})")
    return False, notes[0]


def _latency_text(row: dict, other: dict) -> str:
    a, b = _num(row.get("inference_ms_p50")), _num(other.get("inference_ms_p50"))
    return "" if a is None or b is None else f"; ONNX p50 {a:.3f} ms vs {b:.3f} ms"


def _beats_naive(row: dict, naive: dict | None) -> bool:
    rmse = _num(row.get("test_rmse"))
    naive_rmse = _num(naive.get("test_rmse")) if naive else None
    if rmse is None or (naive_rmse is not None and rmse >= naive_rmse):
        return False
    skill = _num(row.get("rmse_skill_vs_naive"))
    pooled = skill if skill is not None else (1.0 if naive_rmse is not None else 0.0)
    return _claim(pooled, row.get("rmse_skill_vs_naive_seeds"), _num(row.get("dm_p_one_sided_vs_naive"))).holds


def _ensemble_verdict(versus: dict) -> tuple[dict, str]:
    """The ensemble vs the best single model: better only with the one-sided DM test and the sign in every seed."""
    imp = _num(versus.get("rmse_improvement_pct"))
    dm = versus.get("dm") or {}
    claim = _claim(imp if imp is not None else 0.0, versus.get("rmse_improvement_pct_seeds"),
                   _num(dm.get("p_value_one_sided")))
    change = "n/a" if imp is None else f"{imp:+.1f}%"
    text = (f"{versus['ensemble']} vs the best single model, {versus['best_single']} (best: {versus['best_rule']}): "
            f"RMSE change {change} (pooled over seeds and windows), one-sided DM p={fmt_p(claim.p)} (H1: the "
            f"ensemble's loss is lower){claim.seed_text}: "
            + ("better, significantly and in every seed." if claim.holds else
               f"not better ({claim.why or 'no lower RMSE'})."))
    return {**versus, "better": claim.holds}, text


def _economic(row: dict) -> dict:
    """Does the model's strategy beat buy-and-hold after costs? (the rule: module docstring)"""
    psr = _num(row.get("backtest_psr_vs_buy_and_hold"))
    hold = _num(row.get("backtest_buy_and_hold_sharpe"))
    seeds = [_num(v) for v in row.get("backtest_sharpe_seeds") or []]
    above = sum(v is not None and hold is not None and v > hold for v in seeds)
    beats = psr is not None and psr > ECONOMIC_PSR and bool(seeds) and above == len(seeds)
    return {"label": row["label"], "beats": beats if psr is not None else None, "psr": psr,
            "seeds_above": above, "seeds": len(seeds), "backtested": "backtest_sharpe_seeds" in row}


def _economic_statement(verdicts: list[dict]) -> str:
    if not any(e["backtested"] for e in verdicts):
        return ""
    parts = []
    for e in verdicts:
        if e["psr"] is None:  # no Sharpe: never in the market, or returns that never varied
            parts.append(f"{e['label']}: n/a (no Sharpe ratio: the strategy never traded on the test bars)")
            continue
        seeds = f", Sharpe above buy-and-hold's in {e['seeds_above']} of {e['seeds']} seeds" if e["seeds"] > 1 else ""
        parts.append(f"{e['label']}: {'yes' if e['beats'] else 'no'} (PSR {e['psr']:.2f}{seeds})")
    return (f"Beats buy-and-hold after costs (the trading section's strategy; it needs PSR vs buy-and-hold > "
            f"{ECONOMIC_PSR} and a Sharpe above buy-and-hold's in every seed): " + "; ".join(parts) + ".")


def _display(archs) -> str:
    return " / ".join(a.display for a in archs)


def _complement(p: float | None) -> float | None:
    """The one-sided p-value in the opposite direction (a continuous test statistic)."""
    return None if p is None else 1.0 - p


def _num(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        else None
