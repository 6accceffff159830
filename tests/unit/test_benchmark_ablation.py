"""The feature ablation with a fake train_model (no torch): the plan, the DM tests between feature sets (recomputed
by hand from the runs' predictions), the verdicts and the one-line answers, the files and the CLI."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import atb.benchmark.runner as runner
from atb.benchmark.ablation import REPORT_FILE, RESULTS_FILE, holm, run_ablation
from atb.benchmark.plan import make_plan
from atb.benchmark.settings import make_settings
from atb.cli import bench
from atb.errors import UsageError
from atb.evaluation.metrics import evaluate_forecasts
from atb.evaluation.stats import diebold_mariano_losses
from atb.features.sets import ABLATION_SETS
from atb.registry.metadata import VersionMetadata
from atb.training.pipeline import TrainOutcome

MODELS = "cnn_lstm,tcn"


def fake_train(req, skill: dict[str, dict[str, float]]) -> TrainOutcome:
    """A version on a shared market whose forecasts foresee skill[architecture][feature set] of each move."""
    times = pd.date_range(req.test_start, req.end, freq="h")
    n = len(times)
    market = np.random.default_rng(int(times[0].timestamp()))
    last = 100 + market.normal(0, 1, n).cumsum()
    actual = last + market.normal(0, 1, n)
    # The noise is the model's and seed's: sets of equal skill make the same forecasts.
    noise = np.random.default_rng(zlib.crc32(f"{req.architecture}{req.seed}".encode())).normal(0, 0.3, n)
    predicted = last + skill[req.architecture][req.features] * (actual - last) + noise
    version = f"{req.architecture}_{req.seed}_{req.features}_{req.extra['fold']}"
    folder = Path(req.models_dir) / version
    folder.mkdir(parents=True)
    pd.DataFrame({"target_time": times, "last_close": last, "actual_close": actual,
                  "predicted_close": predicted}).to_parquet(folder / "predictions.parquet", index=False)
    meta = {"version_id": version, "symbol": req.symbol,
            "training_params": {"architecture": req.architecture, "architecture_variant": req.variant,
                                "feature_set": req.features, "epochs_run": 3},
            "evaluation_results": evaluate_forecasts(last, actual, predicted),
            "performance": {"training_time_s": 1.0, "inference_ms_p50": 0.1, "parameters": 100}}
    (folder / "metadata.json").write_text(json.dumps(meta))
    return TrainOutcome(folder, VersionMetadata.from_json(meta))


# cnn_lstm: the indicators help a lot, volume not at all; tcn: the indicators hurt.
SKILL = {"cnn_lstm": {"returns": 0.2, "returns+volume": 0.2, "all": 0.6},
         "tcn": {"returns": 0.5, "returns+volume": 0.5, "all": 0.1}}


@pytest.fixture
def fake(monkeypatch):
    requests = []

    def train(req, reporter=None):
        requests.append(req)
        return fake_train(req, SKILL)

    monkeypatch.setattr(runner, "train_model", train)
    return requests


def settings(tmp_path, **kw):
    return make_settings(**{"quick": False, "full": True, "days": 30, "seeds": 2, "models": MODELS,
                            "data_source": "synthetic", "models_dir": tmp_path / "m", "output_dir": tmp_path / "out",
                            "log_to_db": False, "ablation": True, **kw})


def test_the_plan_trains_every_model_on_every_set_over_the_same_seeds_and_folds(tmp_path):
    s = settings(tmp_path, walk_forward=2)
    assert s.feature_sets == ABLATION_SETS and s.to_dict()["feature_sets"] == list(ABLATION_SETS)
    plan = make_plan(s, pd.Timestamp("2024-06-01T00:00Z"))
    assert len(plan) == 2 * 2 * 3 * 2  # folds x seeds x sets x models
    assert [(p.fold, p.seed, p.features, p.model.architecture) for p in plan[:7]] == [
        (1, 42, "returns", "cnn_lstm"), (1, 42, "returns", "tcn"), (1, 42, "returns+volume", "cnn_lstm"),
        (1, 42, "returns+volume", "tcn"), (1, 42, "all", "cnn_lstm"), (1, 42, "all", "tcn"),
        (1, 43, "returns", "cnn_lstm")]
    assert plan[0].title == "cnn_lstm default seed 42 fold 1/2 · features returns"


def test_sets_are_tested_richer_against_poorer_and_the_answer_follows(tmp_path, fake):
    result = run_ablation(settings(tmp_path))
    assert result.status == "completed" and len(fake) == 2 * 3 * 2
    assert {r.features for r in fake} == set(ABLATION_SETS)
    pairs = {(t.label, t.pair): t for t in result.tests}
    assert set(pairs) == {(f"{m} (default)", p) for m in ("cnn_lstm", "tcn")
                          for p in ("all vs returns+volume", "all vs returns", "returns+volume vs returns")}
    assert pairs[("cnn_lstm (default)", "all vs returns+volume")].verdict == "better"
    assert pairs[("tcn (default)", "all vs returns+volume")].verdict == "worse"
    assert pairs[("cnn_lstm (default)", "returns+volume vs returns")].verdict == "no evidence"
    answers = {t.label: t.answer() for t in result.headlines}
    assert answers["cnn_lstm (default)"].startswith("yes: all vs returns+volume -")
    assert answers["cnn_lstm (default)"].endswith("lower in 2/2 seeds")
    assert answers["tcn (default)"].startswith("no, they hurt: all vs returns+volume +")
    data = json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    assert data["answer"] == answers and data["feature_sets"]["returns"] == ["log_return_1", "log_return_4",
                                                                             "log_return_24"]
    assert set(data["summaries"]) == set(ABLATION_SETS) and data["summaries"]["all"]["windows"] == 109
    report = (tmp_path / "out" / REPORT_FILE).read_text()
    assert "## Are the technical indicators helping?" in report and answers["tcn (default)"] in report
    assert "## Feature set returns+volume" in report and "| cnn_lstm (default) | all vs returns |" in report


def test_the_test_recomputes_from_the_runs_predictions(tmp_path, fake):
    result = run_ablation(settings(tmp_path))
    test = next(t for t in result.tests if t.label == "tcn (default)" and t.pair == "all vs returns")

    def losses(features: str) -> pd.Series:
        frames = [pd.read_parquet(Path(r.version_dir) / "predictions.parquet")
                  for r in result.records if r.architecture == "tcn" and r.features == features]
        squared = [((f.predicted_close - f.actual_close) ** 2).to_numpy() for f in frames]
        return np.mean(squared, axis=0)  # each window's squared error averaged over the seeds

    rich, poor = losses("all"), losses("returns")
    dm = diebold_mariano_losses(rich, poor)
    assert test.windows == len(rich) == 109 and test.seeds == [42, 43]
    assert test.p_better == pytest.approx(dm.p_value_one_sided)
    assert test.p_worse == pytest.approx(diebold_mariano_losses(poor, rich).p_value_one_sided)
    assert test.dm_statistic == pytest.approx(dm.statistic)
    assert test.rmse_change_pct == pytest.approx(100 * (np.sqrt(rich.mean()) / np.sqrt(poor.mean()) - 1))


def test_holm_adjusts_in_rank_order_and_keeps_nan():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.2, float("nan")])
    assert adjusted[0] == pytest.approx(0.2) and np.isnan(adjusted[1])


def test_the_cli_prints_the_answer_and_writes_the_files(tmp_path, fake, capsys):
    with pytest.raises(SystemExit) as caught:
        bench.run_script(["--full", "--ablation", "--seeds", "1", "--models", MODELS, "--data-source", "synthetic",
                          "--models-dir", str(tmp_path / "m"), "--output-dir", str(tmp_path / "out"), "--no-db"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "Are the technical indicators helping?" in out and "cnn_lstm (default): yes: all vs returns+volume" in out
    assert (tmp_path / "out" / REPORT_FILE).is_file() and "ablation_results.json" in out


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"feature_sets": "returns+volume,returns+candle"}, "needs a set and a richer one that contains it"),
    ({"feature_sets": "returns,returns"}, "names a set twice"),
    ({"feature_sets": "returns,ohlc"}, "unknown feature set 'ohlc'"),
    ({"features": "returns"}, "--features is for a plain benchmark"),
    ({"ablation": False, "feature_sets": "returns,all"}, "--feature-sets is for --ablation"),
])
def test_bad_ablation_arguments_are_one_usage_error(tmp_path, kwargs, message):
    with pytest.raises(UsageError) as caught:
        settings(tmp_path, **kwargs)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_plain_benchmark_trains_every_run_on_its_feature_set(tmp_path, fake):
    from atb.benchmark.phase1 import run_phase1

    s = settings(tmp_path, ablation=False, features="volume+returns", seeds=1)
    assert s.to_dict()["features"] == "returns+volume" and "feature_sets" not in s.to_dict()
    result = run_phase1(s)
    assert result.status == "completed" and {r.features for r in fake} == {"returns+volume"}
    assert result.results["settings"]["features"] == "returns+volume"
    assert "; features returns+volume;" in result.files["report"].read_text()


def test_an_interrupted_ablation_writes_what_finished_then_stops(tmp_path, monkeypatch):
    calls = []

    def train(req, reporter=None):
        calls.append(req)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return fake_train(req, SKILL)

    monkeypatch.setattr(runner, "train_model", train)
    with pytest.raises(KeyboardInterrupt):
        run_ablation(settings(tmp_path, seeds=1))
    data = json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    assert data["status"] == "interrupted" and data["counts"] == {"runs": 6, "completed": 3, "failed": 0,
                                                                  "not_run": 2}
    # returns (both models) and returns+volume (cnn_lstm) finished: one pair to test
    assert [(t["label"], t["richer"], t["poorer"]) for t in data["tests"]] == [
        ("cnn_lstm (default)", "returns+volume", "returns")]


def test_a_smoke_test_gives_its_nominal_reading_only(tmp_path, fake):
    from atb.benchmark.ablation_report import answer_lines

    result = run_ablation(settings(tmp_path, quick=True, full=False, days=None))
    assert result.results["too_small"].startswith("a smoke test")
    lines = answer_lines(result.headlines, result.results["too_small"])
    assert lines[0].startswith("NO ANSWER: a smoke test") and all("nominal only" in ln for ln in lines[1:])
    assert lines[0] in (tmp_path / "out" / REPORT_FILE).read_text()


def test_the_html_report_answers_first_with_the_pairs_table(tmp_path, fake):
    from atb.benchmark.ablation_report import TEST_COLUMNS, test_cells

    result = run_ablation(settings(tmp_path, seeds=1, models="cnn_lstm"))
    page = result.files["html"].read_text(encoding="utf-8")
    assert result.files["html"].name == "ablation_report.html"
    assert page.count("* plotly.js v") == 1 and 'id="synthetic-label"' in page
    assert page.index('id="decision"') < page.index('id="pairs-table"') < page.index('id="runs-table"')
    import html

    assert result.tests and all(html.escape(cell, quote=False) in page for t in result.tests for cell in test_cells(t))
    assert all(f">{h}</th>" in page for h in TEST_COLUMNS[1:])
