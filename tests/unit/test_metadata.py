"""metadata.json as VersionMetadata: today's files and older ones load, unknown keys survive a round trip, new
versions carry schema_version, damaged files are one-line errors; version ids are built and parsed in one place."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from atb.errors import ModelError
from atb.registry.metadata import (
    SCHEMA_VERSION,
    Evaluation,
    Performance,
    TrainingParams,
    VersionMetadata,
)
from atb.registry.store import read_metadata, write_metadata
from atb.registry.version_id import VersionId, numbered, version_name

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "versions"
TODAY = "2026-12-02_180708_cnn_lstm_lightweight"  # written by the main of 2026-12-02 (a trimmed copy, no weights)
OLD = "2026-11-27_120000_cnn_lstm_lightweight"  # the same, in the schema of 2026-11-27 (before issue 11)


def document(name: str) -> dict:
    path = FIXTURES / TODAY / "metadata.json" if name == TODAY else FIXTURES / f"{OLD}.metadata.json"
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", [TODAY, OLD])
def test_a_file_reads_and_writes_back_unchanged_key_order_included(name):
    doc = document(name)
    meta = VersionMetadata.from_json(doc)
    assert json.dumps(meta.to_json()) == json.dumps(doc)  # no key added (not even schema_version), none lost


def test_todays_file_reads_as_types():
    meta = VersionMetadata.from_json(document(TODAY))
    assert meta.schema_version is None  # written before the key existed
    assert meta.training_params.architecture == "cnn_lstm" and meta.training_params.label == "cnn_lstm (lightweight)"
    assert meta.training_params.bars_ahead == 1 and meta.training_params.features[0] == "log_return_1"
    assert meta.data.test.n == meta.evaluation_results.test_windows == 26
    assert meta.data.synthetic_params.seed == 7
    assert meta.evaluation_results.dm_vs_naive.p_value_one_sided is not None
    assert meta.evaluation_results.collapsed is True  # two epochs: the forecast barely moves
    assert meta.performance.peak_gpu_mb is None and meta.performance.has("peak_gpu_mb")  # null on CPU, but there
    assert meta.training_history[0].epoch == 1 and meta.environment.python
    assert meta.synthetic is True
    assert meta.metric("test_rmse") == meta.evaluation_results.test_rmse
    assert meta.metric("training_time_s") == meta.performance.training_time_s


def test_an_old_file_lacks_the_newer_keys_and_says_so():
    meta = VersionMetadata.from_json(document(OLD))
    ev = meta.evaluation_results
    assert ev.directional_pt_p_value is None and not ev.has("directional_pt_p_value")
    assert ev.collapsed is None and ev.dm_vs_naive.p_value_one_sided is None
    assert meta.performance.fit_s_per_1k_windows is None
    # ... so the fit time per 1,000 windows is computed from what it has
    expected = 1000 * meta.performance.training_time_s / (meta.data.train.n * meta.training_params.epochs_run)
    assert meta.fit_seconds_per_1k_windows() == pytest.approx(expected)
    assert meta.data.synthetic_params is None and meta.training_params.threads is None


def test_unknown_keys_round_trip_in_every_section():
    doc = document(TODAY)
    doc["serving"] = {"sharpe": 1.1, "trades": [{"t": "2025-01-01T00:00:00Z", "side": "long"}]}
    doc["tuning"] = {"study": "s1", "trials": 40}
    doc["members"] = ["v1", "v2"]
    doc["evaluation_results"]["sortino"] = 0.4
    doc["evaluation_results"]["dm_vs_naive"]["n"] = 26
    doc["training_params"]["dropout_schedule"] = "cosine"
    doc["data"]["test"]["note"] = "hand-checked"
    doc["training_history"][0]["grad_norm"] = 3.5
    meta = VersionMetadata.from_json(copy.deepcopy(doc))
    assert meta.other == {"serving": doc["serving"], "tuning": doc["tuning"], "members": ["v1", "v2"]}
    assert meta.evaluation_results.other == {"sortino": 0.4}
    assert meta.metric("sortino") == 0.4
    assert meta.to_json() == doc
    # the guide's jq queries read the written document
    written = json.loads(json.dumps(meta.to_json()))
    assert written["training_params"]["architecture"] == "cnn_lstm" and "test_rmse" in written["evaluation_results"]


def test_a_wrong_shaped_section_is_kept_as_it_was():
    doc = {"data": "edited by hand", "training_history": {"not": "a list"}, "training_params": {"seed": 1},
           "evaluation_results": {}, "performance": {}}
    meta = VersionMetadata.from_json(doc)
    assert meta.data.source is None and meta.synthetic is None
    assert meta.to_json() == doc


def test_a_new_version_has_schema_version_and_writes_what_applies(tmp_path):
    meta = VersionMetadata(schema_version=SCHEMA_VERSION, symbol="BTCUSDT", version_id="v",
                           training_params=TrainingParams(architecture="tcn", days=None),
                           evaluation_results=Evaluation.from_json({"test_rmse": 1.5}),
                           performance=Performance(training_time_s=2.0))
    doc = meta.to_json()
    assert next(iter(doc)) == "schema_version" and doc["schema_version"] == SCHEMA_VERSION == 1
    assert doc["training_params"]["days"] is None  # a field that applies is written, null included
    assert "receptive_field" not in doc["training_params"] and "test_interval" not in doc["training_params"]
    assert "extra" not in doc and "synthetic_params" not in doc["data"]  # optional: only when set
    assert doc["evaluation_results"] == {"test_rmse": 1.5}  # built from evaluate_forecasts(): its keys only
    assert doc["performance"]["peak_gpu_mb"] is None
    write_metadata(tmp_path / "metadata.json", meta)
    assert json.loads((tmp_path / "metadata.json").read_text()) == doc


def test_the_evaluation_section_grows_by_declaring_a_field():
    @dataclass
    class Later(Evaluation):
        sharpe: float | None = None

    later = Later.from_json({"test_rmse": 1.0, "sharpe": 0.7})
    assert later.sharpe == 0.7 and later.other == {}
    assert Evaluation.from_json({"test_rmse": 1.0, "sharpe": 0.7}).other == {"sharpe": 0.7}  # before: kept aside


def test_synthetic_is_what_the_metadata_says():
    assert VersionMetadata.from_json({}).synthetic is None
    assert VersionMetadata.from_json({"data": {"source": "synthetic"}}).synthetic is True
    assert VersionMetadata.from_json({"data": {"source": "synthetic", "synthetic": False}}).synthetic is False
    assert VersionMetadata.from_json({"data": {"source": "exchange:binance"}}).synthetic is False


def version_dir(tmp_path: Path, text: str) -> Path:
    (tmp_path / "metadata.json").write_text(text)
    return tmp_path


@pytest.mark.parametrize(("text", "message"), [
    ('{"training_params": ', "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"training_params": {}, "performance": {}}', "the 'evaluation_results' section is missing or damaged"),
    ('{"training_params": {}, "evaluation_results": "edited", "performance": {}}',
     "the 'evaluation_results' section is missing or damaged"),
])
def test_a_damaged_file_is_a_one_line_model_error(tmp_path, text, message):
    with pytest.raises(ModelError) as info:
        read_metadata(version_dir(tmp_path, text))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_read_metadata_of_the_fixture_version():
    assert read_metadata(FIXTURES / TODAY).version_id == TODAY


def test_version_ids_are_built_and_parsed_in_one_place():
    created = datetime(2026, 11, 26, 18, 43, 12, tzinfo=timezone.utc)
    name = version_name(created, "attention_lstm", "default")
    assert name == "2026-11-26_184312_attention_lstm_default"
    assert VersionId.parse(name) == VersionId(created, "attention_lstm", "default")
    second = VersionId.parse(numbered(name, 2))
    assert second.copy == 2 and second.architecture == "attention_lstm" and str(second) == f"{name}-2"
    assert VersionId.parse(TODAY).variant == "lightweight"
    assert VersionId.parse("v1") is None and VersionId.parse("2026-13-40_000000_tcn_default") is None
    assert numbered("v", 1) == "v" and numbered("v", 3) == "v-3"


def test_the_backtest_section_is_kept_as_written_and_old_files_have_none():
    old = VersionMetadata.from_json(document(TODAY))
    assert old.backtest is None and old.backtest_figures() is None and "backtest" not in old.to_json()
    figures = {"mode": "long_flat", "threshold": 0.0012, "strategy": {"sharpe": 1.1, "sharpe_ci95": [-0.2, 2.4]},
               "future_key": [1, 2]}
    for section, usable in ((figures, True), ({"skipped": "the backtest supports horizon 1 only (got 4)"}, False)):
        doc = {**document(TODAY), "backtest": section}
        meta = VersionMetadata.from_json(copy.deepcopy(doc))
        assert meta.backtest == section and meta.to_json() == doc
        assert (meta.backtest_figures() is not None) is usable


def test_search_trials_are_read_only_when_a_search_recorded_both():
    searched = VersionMetadata.from_json({"tuning": {"n_trials": 40, "trial_sharpe_var": 0.25}})
    assert searched.search_trials() == (40, 0.25)
    for tuning in ({"n_trials": 40}, {"n_trials": "40", "trial_sharpe_var": 0.2}, "optuna", None):
        assert VersionMetadata.from_json({"tuning": tuning}).search_trials() is None
