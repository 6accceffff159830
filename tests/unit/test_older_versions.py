"""Versions written by earlier atb releases still work in `atb models list/show/compare` and `atb predict`:
one written by the main of 2026-12-02 (tests/fixtures/versions, trimmed: no weights) and the same version with
the metadata.json of 2026-11-27 (no schema_version, no directional_pt_*, no fit_s_per_1k_windows, no collapsed)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "versions"
TODAY = "2026-12-02_180708_cnn_lstm_lightweight"
OLD = "2026-11-27_120000_cnn_lstm_lightweight"
FOLDER = "BTCUSDT-SYNTHETIC"


@pytest.fixture
def models(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry with both versions; `latest` is today's."""
    monkeypatch.setenv("COLUMNS", "250")  # tables unwrapped
    price = tmp_path / "models" / FOLDER / "price"
    shutil.copytree(FIXTURES / TODAY, price / TODAY)
    shutil.copytree(FIXTURES / TODAY, price / OLD)
    shutil.copyfile(FIXTURES / f"{OLD}.metadata.json", price / OLD / "metadata.json")
    (price / "latest").symlink_to(TODAY)
    return tmp_path / "models"


def run(atb_cli, *args: str, models: Path):
    result = atb_cli([*args, "--models-dir", str(models)])
    assert result.code == 0, result.err
    return result


def test_models_list_reads_both(atb_cli, models):
    rows = json.loads(run(atb_cli, "models", "list", "--json", models=models).out)
    assert [r["version"] for r in rows] == [OLD, TODAY]
    assert all("error" not in r and r["architecture"] == "cnn_lstm" and r["data"] == "synthetic" for r in rows)
    assert rows[0]["test_rmse"] == rows[1]["test_rmse"] > 0
    table = run(atb_cli, "models", "list", models=models).out
    assert OLD in table and TODAY in table  # the version id names the architecture and variant


@pytest.mark.parametrize("version", [TODAY, OLD])
def test_models_show_prints_the_summary_and_the_file_as_it_is(atb_cli, models, version):
    table = run(atb_cli, "models", "show", FOLDER, "-v", version, models=models).out
    assert "cnn_lstm (lightweight)" in table and "naive (last close)" in table
    on_disk = json.loads((models / FOLDER / "price" / version / "metadata.json").read_text())
    shown = json.loads(run(atb_cli, "models", "show", FOLDER, "-v", version, "--json", models=models).out)
    assert shown == on_disk and "schema_version" not in shown  # nothing added to an older file


def test_models_compare_scores_an_old_and_a_new_version_side_by_side(atb_cli, models):
    result = run(atb_cli, "models", "compare", FOLDER, "-v", OLD, "-v", TODAY, "--json", models=models)
    rows = json.loads(result.out)["rows"]
    assert [r["version"] for r in rows] == [OLD, TODAY, None]
    assert rows[0]["is_baseline"] and rows[0]["metrics"]["test_rmse"] == rows[1]["metrics"]["test_rmse"]
    assert rows[0]["fit_s_per_1k_windows"] > 0  # computed for the old file, which does not record it
    text = run(atb_cli, "models", "compare", FOLDER, "-v", OLD, "-v", TODAY, models=models).out
    assert "Comparison vs cnn_lstm (lightweight) baseline" in text
    # the fixture's forecast collapsed: the table says so, and the note explains the mark
    assert "cnn_lstm (lightweight) [collapsed]" in text and "A row marked [collapsed] forecasts" in text


def test_predict_with_either_version(atb_cli, models):
    forecasts = {}
    for version in (TODAY, OLD):
        result = run(atb_cli, "predict", FOLDER, "-v", version, "--data-source", "synthetic", "--json", models=models)
        forecasts[version] = json.loads(result.out)
        assert forecasts[version]["version"] == version and forecasts[version]["warnings"] == []
    assert math.isfinite(forecasts[TODAY]["predicted_close"])
    assert forecasts[OLD]["predicted_close"] == forecasts[TODAY]["predicted_close"]  # the same model.onnx
    text = run(atb_cli, "predict", FOLDER, "--data-source", "synthetic", models=models).out  # latest
    assert f"cnn_lstm (lightweight) {TODAY}" in text
