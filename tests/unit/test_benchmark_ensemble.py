"""The benchmark's ensemble: the best single model is decided on validation, the test against it recomputes from
the runs' predictions, the decision claims "better" on the usual terms, and the guide's matrix ignores the
ensemble row (hand-made versions and rows: no torch)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import atb.ensemble.build as ensemble_build
from atb.benchmark.aggregate import load_entries
from atb.benchmark.decision import decide
from atb.benchmark.ensembles import run_ensembles, versus_best_single
from atb.benchmark.records import RunRecord
from atb.benchmark.settings import make_settings
from atb.evaluation.stats import diebold_mariano_losses
from atb.registry.metadata import VersionMetadata
from fakes.versions import write_version


def _worse_on_test(path) -> None:
    table = pd.read_parquet(path / "predictions.parquet")
    test = table["split"] == "test"
    table.loc[test, "predicted_close"] = table.loc[test, "last_close"] * 1.02  # a bad forecast, on test only
    table.to_parquet(path / "predictions.parquet", index=False)


def records_for(root, seeds=(42, 43)) -> list[RunRecord]:
    """Per seed: cnn_lstm (best on validation, bad on test), tcn (worse on validation, good on test), an ensemble."""
    records = []
    for seed in seeds:
        for arch, skill, noise in (("cnn_lstm", 0.5, 0.1), ("tcn", 0.2, 0.5), ("ensemble", 0.3, 0.3)):
            name = f"2025-01-05_00000{len(records)}_{arch}_{'nnls' if arch == 'ensemble' else 'default'}"
            path = write_version(root, name, architecture=arch, skill=skill, noise=noise)
            if arch == "cnn_lstm":
                _worse_on_test(path)
            records.append(RunRecord(len(records) + 1, arch, "nnls" if arch == "ensemble" else "default", seed, 1,
                                     "completed", version_id=name, version_dir=str(path)))
    return records


def test_the_best_single_model_is_chosen_on_validation_and_the_test_recomputes(tmp_path):
    records = records_for(tmp_path)
    entries = load_entries(records)
    versus = versus_best_single(records, entries)
    assert versus["best_single"] == "cnn_lstm (default)"  # lowest validation MSE, although it is worse on test
    loss = {}
    for label in ("ensemble (nnls)", "cnn_lstm (default)"):
        per_seed = [entries[r.index].predictions for r in records if r.label == label]
        loss[label] = [((p.predicted_close - p.actual_close) ** 2).to_numpy() for p in per_seed]
    averaged = {k: np.mean(v, axis=0) for k, v in loss.items()}  # each window's loss averaged over the seeds
    dm = diebold_mariano_losses(averaged["ensemble (nnls)"], averaged["cnn_lstm (default)"])
    assert versus["dm"]["statistic"] == pytest.approx(dm.statistic)
    assert versus["dm"]["p_value_one_sided"] == pytest.approx(dm.p_value_one_sided)
    pooled = 100 * (1 - np.sqrt(averaged["ensemble (nnls)"].mean() / averaged["cnn_lstm (default)"].mean()))
    assert versus["rmse_improvement_pct"] == pytest.approx(pooled)
    assert len(versus["rmse_improvement_pct_seeds"]) == 2 and versus["windows"] == 100


def test_no_ensemble_or_no_validation_gives_no_test(tmp_path):
    records = [r for r in records_for(tmp_path, seeds=(42,)) if r.architecture != "ensemble"]
    assert versus_best_single(records, load_entries(records)) is None


def _row(arch: str, variant: str = "default", **kw) -> dict:
    return {"label": f"{arch} ({variant})", "architecture": arch, "variant": variant, "is_baseline": arch == "cnn_lstm",
            "is_naive": False, "test_rmse": 100.0, "rmse_improvement_pct": 0.0, "dm_p_one_sided_vs_baseline": 0.5,
            "rmse_skill_vs_naive": 0.0, "dm_p_one_sided_vs_naive": 0.5, "fit_s_per_1k_windows": 1.0,
            "inference_ms_p50": 0.1, **kw}


def versus(p: float, seeds: list[float], imp: float = 2.0) -> dict:
    return {"ensemble": "ensemble (nnls)", "best_single": "tcn (default)", "best_rule": "lowest validation MSE",
            "rmse_improvement_pct": imp, "rmse_improvement_pct_seeds": seeds,
            "dm": {"statistic": -2.0, "p_value": 2 * p, "p_value_one_sided": p, "n": 300}}


@pytest.mark.parametrize(("p", "seeds", "better", "why"), [
    (0.01, [1.0, 3.0], True, "better, significantly and in every seed"),
    (0.01, [4.0, -0.5], False, "not better (not in every seed)"),
    (0.20, [1.0, 3.0], False, "not better (one-sided p=0.200 >= 0.05)"),
])
def test_the_decision_claims_better_only_with_the_one_sided_test_and_every_seed(p, seeds, better, why):
    rows = [_row("cnn_lstm"), _row("attention_lstm"), _row("tcn"), _row("ensemble", "nnls")]
    d = decide(rows, ensemble=versus(p, seeds))
    assert d.ensemble["better"] is better
    assert d.ensemble_statement in d.lines() and why in d.ensemble_statement
    assert d.ensemble_statement.startswith("ensemble (nnls) vs the best single model, tcn (default)")


def test_the_guide_matrix_leaves_the_ensemble_row_out():
    rows = [_row("cnn_lstm", test_rmse=100.0), _row("attention_lstm", rmse_improvement_pct=1.0),
            _row("tcn", fit_s_per_1k_windows=0.5, test_rmse=103.0)]
    with_ensemble = rows + [_row("ensemble", "nnls", test_rmse=90.0, fit_s_per_1k_windows=None)]
    a, b = decide(rows), decide(with_ensemble)
    assert (a.scenario, a.reason, a.scenario_5, a.scenario_5_reason) == (b.scenario, b.reason, b.scenario_5,
                                                                         b.scenario_5_reason)
    assert "ensemble (nnls)" in [e["label"] for e in b.economic]  # judged like any model beside the matrix


def test_a_seed_with_one_completed_run_gets_a_failed_ensemble_record(tmp_path, monkeypatch):
    records = [r for r in records_for(tmp_path) if r.architecture != "ensemble"]
    records[0].status = "failed"  # seed 42 keeps tcn alone
    built = []

    def fake_build(request, reporter=None):
        built.append(request)
        path = write_version(tmp_path, "2025-01-06_000000_ensemble_nnls", architecture="ensemble")
        meta = VersionMetadata.from_json(json.loads((path / "metadata.json").read_text()))
        return ensemble_build.EnsembleOutcome(path, meta)

    monkeypatch.setattr(ensemble_build, "build_ensemble", fake_build)
    settings = make_settings(quick=True, full=False, data_source="synthetic", seeds=2, ensemble=True,
                             models_dir=tmp_path / "m", output_dir=tmp_path / "out")
    out = run_ensembles(settings, records)
    assert [(r.seed, r.status) for r in out] == [(42, "failed"), (43, "completed")]
    assert "an ensemble needs at least 2" in out[0].error and out[1].architecture == "ensemble"
    (request,) = built
    assert [p.name for p in request.members] == [r.version_id for r in records if r.seed == 43]
    assert request.extra["seed"] == 43 and request.method == "nnls"
