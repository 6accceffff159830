"""The decision matrix over hand-made result rows (the shape of phase1_results.json summary.rows)."""

from __future__ import annotations

import pytest

from atb.benchmark.decision import SCENARIOS, decide


def row(arch: str, *, variant: str = "default", imp: float | None = None, p: float | None = None,
        rmse: float = 100.0, time_s: float = 60.0, time_std: float | None = None, p_naive: float | None = 0.01,
        baseline: bool = False, seeds: list | None = None) -> dict:
    """``p``: the one-sided DM p-value in the direction of the improvement's sign (as a test would report it);
    ``time_s``: fit seconds per 1,000 training windows."""
    one_sided = None if p is None or imp is None else (p if imp > 0 else 1 - p)
    return {"label": f"{arch} ({variant})", "architecture": arch, "variant": variant, "is_baseline": baseline,
            "is_naive": False, "test_rmse": rmse, "rmse_improvement_pct": imp, "rmse_improvement_pct_seeds": seeds,
            "dm_p_one_sided_vs_baseline": one_sided, "dm_p_one_sided_vs_naive": p_naive,
            "rmse_skill_vs_naive": (110.0 - rmse) / 110.0,
            "fit_s_per_1k_windows": time_s, "fit_s_per_1k_windows_std": time_std, "inference_ms_p50": 0.05}


def naive(rmse: float = 110.0) -> dict:
    return {"label": "naive (last close)", "architecture": "naive", "variant": "", "is_baseline": False,
            "is_naive": True, "test_rmse": rmse, "rmse_improvement_pct": -10.0, "dm_p_vs_baseline": None,
            "dm_p_one_sided_vs_naive": None, "fit_s_per_1k_windows": None}


def rows(imp: float, p: float | None, *, att_rmse: float | None = None, tcn: dict | None = None) -> list[dict]:
    base = row("cnn_lstm", rmse=100.0, baseline=True)
    att = row("attention_lstm", imp=imp, p=p, rmse=att_rmse or 100.0 * (1 - imp / 100))
    return [base, att, tcn or row("tcn", imp=0.0, p=0.9, rmse=100.0, time_s=55.0), naive()]


@pytest.mark.parametrize(("imp", "p", "scenario"), [
    (12.0, 0.01, 1), (10.0, 0.04, 1), (7.0, 0.01, 2), (5.0, 0.001, 2), (4.9, 0.01, 3), (0.5, 0.6, 3),
    (0.0, 0.9, 4), (-3.0, 0.5, 4), (-8.0, 0.001, 4),
])
def test_scenario_follows_the_improvement_when_significant_or_not_claimed(imp, p, scenario):
    d = decide(rows(imp, p))
    assert d.scenario == scenario
    assert SCENARIOS[scenario].action in d.headline
    assert f"Scenario {scenario} - {SCENARIOS[scenario].title}" in d.headline


@pytest.mark.parametrize(("imp", "nominal"), [(12.0, 1), (7.5, 2)])
def test_an_unsignificant_improvement_is_treated_as_scenario_3_or_4(imp, nominal):
    d = decide(rows(imp, 0.31))
    assert (d.nominal_scenario, d.scenario, d.significant) == (nominal, 3, False)
    assert (f"the {imp:.0f}% improvement is not established (one-sided p=0.310 >= 0.05): treat as Scenario 3/4"
            in d.reason)
    assert "Scenario 3/4" in d.headline and "INVESTIGATE" in d.headline


def test_missing_p_value_is_not_significant():
    d = decide(rows(15.0, None))
    assert d.scenario == 3 and "p=n/a" in d.reason


def test_an_improvement_that_changes_sign_across_seeds_is_not_claimed():
    data = rows(12.0, 0.001)
    data[1]["rmse_improvement_pct_seeds"] = [20.0, 18.0, -1.0]
    d = decide(data)
    assert (d.scenario, d.significant) == (3, False) and "not in every seed" in d.reason
    assert "2 of 3 seeds in that direction" in d.reason


def test_a_significantly_worse_model_is_never_reported_as_better():
    """The defect: a two-sided p < 0.05 passed whatever the sign of the DM statistic."""
    data = rows(12.0, 0.01)
    data[1]["dm_p_one_sided_vs_baseline"] = 0.995  # the test says: attention's loss is HIGHER
    d = decide(data)
    assert d.scenario == 3 and not d.significant
    assert "not established" in d.reason and "statistically significant" not in d.reason


def test_significant_degradation_is_said_plainly():
    d = decide(rows(-8.0, 0.001))
    assert d.scenario == 4 and "significantly worse" in d.reason


def test_lines_carry_the_guides_actions_and_why():
    text = "\n".join(decide(rows(12.0, 0.01)).lines())
    for step in SCENARIOS[1].steps:
        assert step in text
    assert SCENARIOS[1].why in text


def test_attention_default_variant_is_judged_not_the_best_variant():
    data = rows(2.0, 0.4) + [row("attention_lstm", variant="deep", imp=15.0, p=0.001, rmse=85.0)]
    assert decide(data).scenario == 3


def test_a_lone_non_default_attention_variant_is_judged():
    data = [r for r in rows(2.0, 0.4) if r["architecture"] != "attention_lstm"]
    data.append(row("attention_lstm", variant="deep", imp=15.0, p=0.001, rmse=85.0))
    assert decide(data).scenario == 1


@pytest.mark.parametrize("missing", ["cnn_lstm", "attention_lstm"])
def test_without_baseline_or_attention_the_matrix_is_not_applied(missing):
    d = decide([r for r in rows(12.0, 0.01) if r["architecture"] != missing])
    assert d.scenario is None and d.headline.startswith("UNDETERMINED")
    assert ("CNN-LSTM baseline" if missing == "cnn_lstm" else "Attention-LSTM") in d.reason


def test_scenario_5_when_tcn_is_clearly_fastest_and_close_to_the_best():
    fast = row("tcn", imp=-1.0, p=0.5, rmse=101.0, time_s=20.0)  # 4.1% above attention's 97
    d = decide(rows(3.0, 0.01, tcn=fast))
    assert d.scenario == 3 and d.scenario_5
    assert "also Scenario 5" in d.headline and "USE FOR SPEED-CRITICAL APPLICATIONS" in d.headline
    assert "Deploy TCN for real-time inference" in "\n".join(d.lines())


@pytest.mark.parametrize("tcn", [
    row("tcn", rmse=110.0, time_s=20.0),  # 22% worse than the best (attention at 90)
    row("tcn", rmse=91.0, time_s=50.0),  # not clearly faster than 60 s
    row("tcn", rmse=91.0, time_s=30.0, time_std=35.0),  # faster on average, within the noise
])
def test_no_scenario_5_when_tcn_is_not_clearly_fastest_or_not_similar(tcn):
    d = decide(rows(10.0, 0.01, tcn=tcn))
    assert not d.scenario_5 and "no Scenario 5" in d.scenario_5_reason


def test_naive_persistence_statement():
    data = rows(12.0, 0.01)
    data[0]["dm_p_one_sided_vs_naive"] = 0.2  # baseline: lower RMSE but not significant
    data[2]["test_rmse"] = 115.0  # tcn: worse than naive even though "significant"
    d = decide(data)
    assert d.beats_naive == ["attention_lstm (default)"]
    assert "Beats naive persistence" in d.naive_statement and "attention_lstm (default)" in d.naive_statement


def test_nothing_beats_naive_is_said_and_tempers_a_scenario_1():
    data = rows(12.0, 0.01)
    for r in data:
        r["dm_p_one_sided_vs_naive"] = None if r["is_naive"] else 0.4
    d = decide(data)
    assert d.beats_naive == [] and d.naive_statement.startswith("No model beats naive persistence")
    assert any("do not deploy" in c for c in d.caveats)


def test_smoke_test_is_labelled_and_quotes_no_scenario_reasons():
    d = decide(rows(-2.0, 0.5), smoke_test=True, windows=26)
    assert d.headline.startswith("SMOKE TEST ONLY") and "NO DECISION" in d.headline
    text = d.to_dict()["text"]
    assert "a smoke test (26 test windows)" in text and "Nominal reading only (not a decision): Scenario 4" in text
    assert SCENARIOS[4].why not in text and "Action:" not in text  # not "likely implementation issue"
    assert not d.decided


def test_too_few_windows_is_no_decision():
    d = decide(rows(12.0, 0.01), windows=40)
    assert "NO DECISION: only 40 pooled test windows" in d.headline and SCENARIOS[1].why not in "\n".join(d.lines())
    assert decide(rows(12.0, 0.01), windows=400).decided


def test_scenario_5_ranks_by_fit_time_per_1000_windows_and_shows_latency():
    fast = row("tcn", imp=-1.0, p=0.5, rmse=101.0, time_s=20.0)
    d = decide(rows(3.0, 0.01, tcn=fast))
    assert d.scenario_5 and "per 1,000 training windows" in d.scenario_5_reason
    assert "ONNX p50 0.050 ms" in d.scenario_5_reason


def test_scenario_4_without_skill_points_at_the_data_as_well_as_the_code():
    data = rows(-2.0, 0.5)
    for r in data:
        r["dm_p_one_sided_vs_naive"] = None if r["is_naive"] else 0.6
    d = decide(data)
    assert d.scenario == 4 and any("(atb doctor)" in c for c in d.caveats)
    assert not any("(atb doctor)" in c for c in decide(rows(-2.0, 0.5)).caveats)  # skill: no caveat
    # Scenario 4's advice names the doctor, beside the guide's own steps (and for a smoke test's nominal reading).
    assert any(line.startswith("  - atb: tell an efficient market from a bug with `atb doctor") for line in d.lines())
    smoke = decide(data, smoke_test=True)
    assert smoke.too_small and any("`atb doctor" in line for line in smoke.lines())



def traded(r: dict, psr: float | None, seeds: list, hold: float = 0.5) -> dict:
    """A summary row with the trading section's figures (benchmark.trading: backtest_<key>)."""
    return {**r, "backtest_psr_vs_buy_and_hold": psr, "backtest_sharpe_seeds": seeds,
            "backtest_buy_and_hold_sharpe": hold}


@pytest.mark.parametrize(("psr", "seeds", "beats"), [
    (0.97, [1.2, 0.9], True),
    (0.97, [1.2, 0.3], False),  # one seed below buy-and-hold's Sharpe: not in every seed
    (0.94, [1.2, 0.9], False),  # not sure enough
    (0.95, [1.2, 0.9], False),  # "beats" needs PSR > 0.95
])
def test_beats_buy_and_hold_needs_psr_above_095_and_every_seed(psr, seeds, beats):
    base, att, tcn, naive_row = rows(12.0, 0.01)
    d = decide([traded(base, 0.2, [0.1, 0.3]), traded(att, psr, seeds), traded(tcn, 0.41, [0.4, 0.6]), naive_row])
    assert [e["beats"] for e in d.economic] == [False, beats, False]
    assert f"attention_lstm (default): {'yes' if beats else 'no'} (PSR {psr:.2f}, Sharpe above buy-and-hold's in " \
           f"{sum(s > 0.5 for s in seeds)} of 2 seeds)" in d.economic_statement
    assert d.economic_statement in d.lines()
    # next to the forecast verdict in the headline
    assert d.headline.startswith("PROCEED TO PHASE 2: Scenario 1")
    assert d.headline.endswith("; beats buy-and-hold after costs: attention_lstm (default) (PSR 0.97)" if beats else
                               f"; beats buy-and-hold after costs: no (PSR {max(psr, 0.41):.2f}, "
                               f"{'attention_lstm' if psr > 0.41 else 'tcn'} (default))")


def test_a_strategy_that_never_trades_has_no_verdict_and_rows_without_a_backtest_none_at_all():
    base, att, tcn, naive_row = rows(12.0, 0.01)
    d = decide([traded(base, None, [None]), traded(att, 0.3, [0.1]), traded(tcn, 0.2, [0.2]), naive_row])
    assert d.economic[0]["beats"] is None and "cnn_lstm (default): n/a (no Sharpe ratio" in d.economic_statement
    assert d.headline.endswith("; beats buy-and-hold after costs: no (PSR 0.30, attention_lstm (default))")
    plain = decide(rows(12.0, 0.01))
    assert plain.economic_statement == "" and "buy-and-hold" not in plain.headline
    small = decide([traded(base, 0.2, [0.1]), traded(att, 0.99, [2.0]), tcn, naive_row], smoke_test=True)
    assert "buy-and-hold" not in small.headline and "attention_lstm (default): yes" in small.economic_statement
