"""Walk-forward benchmarks that really train (one small model, one epoch): on candles with holes every
target time of the tested span is scored by exactly one fold, and --end-date places the newest fold."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from atb.benchmark.phase1 import REPORT_FILE, RESULTS_FILE, run_phase1
from atb.benchmark.settings import make_settings
from atb.cli import bench
from atb.registry.predictions import read_predictions
from fakes.candles import gappy_candle_file, valid_target_times

pytestmark = pytest.mark.slow
HOUR = pd.Timedelta(hours=1)


def scored(results: dict) -> list[pd.DataFrame]:
    """Each completed run's test predictions, with its fold."""
    return [read_predictions(Path(r["version_dir"])).test.assign(fold=r["fold"])
            for r in results["runs"] if r["status"] == "completed"]


def check_folds(results: dict, folds: int) -> pd.DataFrame:
    """Every fold ran, the planned test intervals tile the span, and no target time is scored twice."""
    predictions = pd.concat(scored(results), ignore_index=True)
    assert not predictions["target_time"].duplicated().any(), "a target time is scored by two folds"
    assert results["status"] == "completed" and len(results["folds"]) == folds
    for older, newer in zip(results["folds"], results["folds"][1:], strict=False):
        assert pd.Timestamp(newer["test_interval"]["start"]) == pd.Timestamp(older["test_interval"]["end"]) + HOUR
    for fold in results["folds"]:
        times = predictions.loc[predictions["fold"] == fold["fold"], "target_time"]
        interval = fold["test_interval"]
        assert times.min() >= pd.Timestamp(interval["start"]) and times.max() <= pd.Timestamp(interval["end"])
        assert fold["test"]["n"] == len(times) and fold["runs_agree"]
        assert fold["validation"]["end"] < interval["start"]
    return predictions


def test_walk_forward_on_candles_with_holes_scores_each_target_time_once(tmp_path, data_dir):
    path, candles = gappy_candle_file(tmp_path, [(30, 33), (400, 402)])  # a hole inside the newest test interval
    settings = make_settings(quick=False, full=True, models="tcn:lightweight", epochs=1, seeds=1, walk_forward=3,
                             data_file=path, models_dir=tmp_path / "m", output_dir=tmp_path / "out", log_to_db=False)
    run_phase1(settings)
    results = json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    predictions = check_folds(results, 3)
    first = pd.Timestamp(results["folds"][0]["test_interval"]["start"])
    assert set(predictions["target_time"]) == valid_target_times(candles, first)  # and none is left out
    assert results["summary"]["windows"] == len(predictions)
    assert "## Folds" in (tmp_path / "out" / REPORT_FILE).read_text()


def test_end_date_with_a_time_on_the_real_file(tmp_path, data_dir, shared_data):
    with pytest.raises(SystemExit) as caught:
        bench.run_script(["--full", "--walk-forward", "4", "--end-date", "2021-09-30T12:00", "--data-file",
                          str(shared_data / "BTCUSDT_1h_2017-08_2022-12.csv"), "--models", "tcn:lightweight",
                          "--epochs", "1", "--seeds", "1", "--models-dir", str(tmp_path / "m"),
                          "--output-dir", str(tmp_path / "out"), "--no-db"])
    assert caught.value.code == 0
    results = json.loads((tmp_path / "out" / RESULTS_FILE).read_text())
    assert results["folds"][-1]["test_interval"]["end"] == "2021-09-30T12:00:00Z"
    predictions = check_folds(results, 4)
    # The hole of 2021-09-29 07:00-08:00 leaves no full window after it before the end date.
    assert predictions["target_time"].max() == pd.Timestamp("2021-09-29T06:00Z")
