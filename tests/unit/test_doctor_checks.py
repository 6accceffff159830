"""The doctor's reasoning without training: the attainable skill of the planted signal against a long simulation,
the best possible forecast, the known-signal, placebo (Holm) and too-good rules, the truncation test on a leaked
feature, and the arguments."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from atb.data.synthetic import synthetic_candles
from atb.doctor import markets
from atb.doctor.leakage import CANARY_COLUMN, causal_check, leaking_features
from atb.doctor.placebo import placebo_checks
from atb.doctor.result import Status
from atb.doctor.runs import Score
from atb.doctor.settings import make_doctor_settings
from atb.doctor.signal import signal_check
from atb.errors import UsageError
from atb.evaluation.metrics import evaluate_forecasts
from atb.models import registry


def test_attainable_skill_and_direction_match_a_long_simulation() -> None:
    """The formulas of markets' docstring against 3 x 60,000 bars of the doctor's market: the price-scale RMSE skill
    of the oracle within 0.05 (fat tails make the sample figure noisy), its directional accuracy within 2.5 points
    (Student-t innovations move it a little from the Gaussian value)."""
    phi = markets.SIGNAL_AR
    skills, accuracies = [], []
    for seed in (1, 2, 3):
        c = synthetic_candles(60_000, symbol=markets.MARKET_SYMBOL, seed=seed, ar_coef=phi)
        close = c["close"].to_numpy()
        ev = evaluate_forecasts(close[1:-1], close[2:], markets.oracle_close(c, c["open_time"].iloc[2:], phi))
        skills.append(ev["rmse_skill_vs_naive"])
        accuracies.append(ev["directional_accuracy"])
    expected = markets.attainable(phi)
    assert np.median(skills) == pytest.approx(expected["rmse_skill"], abs=0.05)
    assert np.median(accuracies) == pytest.approx(expected["directional_accuracy"], abs=2.5)


def test_the_oracle_is_phi_times_the_last_return() -> None:
    c = pd.DataFrame({"open_time": pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC"),
                      "close": [100.0, 110.0, 99.0, 100.0]})
    got = markets.oracle_close(c, c["open_time"].iloc[2:], -0.5)
    assert got == pytest.approx([110 * np.exp(-0.5 * np.log(1.1)), 99 * np.exp(-0.5 * np.log(0.9))])


def test_plant_leak_puts_the_next_return_into_the_volume() -> None:
    c = synthetic_candles(500, symbol="TEST", seed=1)
    leaked = markets.plant_leak(c)
    nxt = np.diff(np.log(c["close"].to_numpy()))
    moved = np.log(leaked["volume"].to_numpy()[:-1] / c["volume"].to_numpy()[:-1])
    assert np.corrcoef(moved, nxt)[0, 1] > 0.999 and leaked["volume"].iloc[-1] == c["volume"].iloc[-1]


def _score(skill=0.25, oracle=0.28, p=1e-6, p_oracle=0.9, accuracy=74.0, oracle_accuracy=75.0,
           p_direction=0.8) -> Score:
    return Score(216, 1, skill, [skill], oracle, p, p_oracle, accuracy, oracle_accuracy, p_direction)


def test_known_signal_rules() -> None:
    assert signal_check("m", _score(), -0.7).status is Status.PASS
    weak = signal_check("m", _score(skill=0.15), -0.7)  # 54% of the attainable
    assert weak.status is Status.FAIL and "60% required" in weak.detail
    assert signal_check("m", _score(p=0.2), -0.7).status is Status.FAIL  # not significant
    assert signal_check("m", _score(skill=-0.3), -0.7).status is Status.FAIL  # a misaligned target
    too_good = signal_check("m", _score(skill=0.45, p_oracle=1e-4), -0.7)  # beats the best possible forecast
    assert too_good.status is Status.FAIL and too_good.summary.startswith("too good to be true")
    direction = signal_check("m", _score(accuracy=90.0, p_direction=1e-5), -0.7)
    assert direction.status is Status.FAIL and "above the best possible forecast" in direction.detail


def test_placebo_holm_across_architectures() -> None:
    """p-values 0.01, 0.04, 0.5: Holm multiplies the smallest by 3 (0.03 < 0.05: flagged) and stops at the second
    (0.04 x 2 = 0.08), where an uncorrected test would have flagged it too."""
    scores = {"a": _score(skill=0.02, p=0.01), "b": _score(skill=0.01, p=0.04), "c": _score(skill=-0.01, p=0.5)}
    results = {r.name: r for r in placebo_checks(scores)}
    assert [results[k].status for k in "abc"] == [Status.FAIL, Status.PASS, Status.PASS]
    assert [results[k].figures["p_holm"] for k in "abc"] == pytest.approx([0.03, 0.08, 0.5])


def _leak_log_volume_z(monkeypatch) -> None:
    """A feature-engineering bug: log_volume_z becomes the next bar's return (a shift(-1) in the wrong place)."""
    from atb.features import dataset

    real = dataset.compute_features

    def leaky(candles: pd.DataFrame, timeframe: str) -> pd.DataFrame:
        frame = real(candles, timeframe)
        frame["log_volume_z"] = np.log(candles["close"]).diff().shift(-1).to_numpy()
        return frame

    monkeypatch.setattr(dataset, "compute_features", leaky)


def test_causal_check_passes_on_the_pipeline_features_and_fails_on_a_leaked_one(monkeypatch) -> None:
    c = synthetic_candles(1500, symbol="TEST", seed=2).drop(index=range(700, 705)).reset_index(drop=True)  # a gap
    clean = causal_check(c, "1h", "test candles")
    assert clean.status is Status.PASS and clean.figures["features"] == 17
    assert CANARY_COLUMN in leaking_features(c, "1h", plant=True)  # the canary column is named
    _leak_log_volume_z(monkeypatch)
    leaked = causal_check(c, "1h", "test candles")
    assert leaked.status is Status.FAIL and leaked.figures["leaking"] == ["log_volume_z"]


def test_settings_check_the_arguments(tmp_path) -> None:
    settings = make_doctor_settings(quick=True, symbol="btc/usdt")
    assert settings.symbol == "BTCUSDT" and settings.data_source == "exchange"
    assert [a for a, _ in settings.models] == list(registry.names())
    assert {v for _, v in settings.models} == {"lightweight"}
    full = make_doctor_settings(quick=False, models=f"{registry.names()[-1]},{registry.baseline().name}:deep")
    assert full.models[0] == (registry.baseline().name, "deep") and full.models[1][1] == "default"
    for kwargs, message in ((dict(models="nope"), "unknown model type"), (dict(version="v1"), "needs the SYMBOL"),
                            (dict(data_file=tmp_path / "missing.csv"), "no such file"),
                            (dict(data_source="file"), "needs --data-file"), (dict(threads=0), "--threads")):
        with pytest.raises(UsageError, match=message):
            make_doctor_settings(quick=True, **kwargs)


def _report(status: Status):
    from atb.doctor.result import CheckResult, DoctorReport

    checks = [CheckResult("data", "gaps", Status.WARN, "27 gaps", detail="fewer windows", offenders=["2018-02-08"]),
              CheckResult("signal", "m (lightweight)", status, "skill +25.0% = 90% of the attainable 28.0%",
                          detail="why it failed")]
    settings = {"mode": "quick", "symbol": "BTCUSDT", "timeframe": "1h", "candles": "file:x.csv", "models": ["m:l"]}
    return DoctorReport(settings, checks, ["a note"], 1.0)


@pytest.mark.parametrize("status, code", [(Status.PASS, 0), (Status.FAIL, 1)])
def test_cli_prints_every_check_and_exits_1_on_a_fail(atb_cli, monkeypatch, status, code) -> None:
    from atb.doctor import runner

    monkeypatch.setattr(runner, "run_doctor", lambda settings, progress=None: _report(status))
    result = atb_cli(["doctor", "--quick"])
    assert result.code == code
    assert f"{status.value}  m (lightweight)  skill +25.0%" in result.out and "WARN  gaps" in result.out
    assert "worst: 2018-02-08" in result.out and "a note" in result.out
    assert ("why it failed" in result.out) == (status is Status.FAIL)
    as_json = atb_cli(["doctor", "--quick", "--json"])
    assert as_json.code == code and json.loads(as_json.out)["status"] == ("FAIL" if code else "WARN")


def test_cli_refuses_a_missing_version_before_training(atb_cli, tmp_path) -> None:
    result = atb_cli(["doctor", "BTCUSDT", "--version", "nope", "--models-dir", str(tmp_path), "--quick"])
    assert result.code == 1 and result.err.startswith("error: ") and len(result.err.strip().splitlines()) == 1
