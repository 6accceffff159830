"""Presets, argument checks and the run plan (seeds, walk-forward folds and their ends)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from atb.benchmark.plan import bars_per_test_split, fold_ends, make_folds, make_plan, train_request
from atb.benchmark.settings import ModelChoice, make_settings, parse_models
from atb.errors import UsageError
from atb.models.registry import names

ARCHITECTURES = names()  # the default model set: every architecture in the table


def settings(**kw):
    return make_settings(**{"quick": False, "full": True, "data_source": "synthetic", **kw})


def test_presets_follow_the_guide():
    quick = make_settings(quick=True, full=False)
    full = make_settings(quick=False, full=True)
    assert (quick.days, quick.epochs, quick.seed_list, quick.smoke_test) == (7, 5, [42], True)
    assert (full.days, full.epochs, full.seed_list, full.smoke_test, full.timeframe) == (30, 20, [42, 43, 44],
                                                                                          False, "1h")
    assert [str(m) for m in full.models] == [f"{a}:default" for a in ARCHITECTURES]
    assert full.output_dir == Path("artifacts") and full.data_source == "exchange"


def test_overrides_beat_the_preset():
    s = make_settings(quick=True, full=False, days=3, epochs=2, seeds=2, symbol=" ethusdt ")
    assert (s.days, s.epochs, s.seed_list, s.symbol, s.smoke_test) == (3, 2, [42, 43], "ETHUSDT", True)


def test_models_with_variants_and_the_baseline_first():
    assert parse_models("tcn:lightweight, attention_lstm:deep,cnn_lstm") == (
        ModelChoice("cnn_lstm"), ModelChoice("tcn", "lightweight"), ModelChoice("attention_lstm", "deep"))
    assert parse_models("CNN_LSTM:Deep") == (ModelChoice("cnn_lstm", "deep"),)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"quick": False, "full": False}, "choose one of --quick"),
    ({"quick": True, "full": True}, "choose one of --quick"),
    ({"quick": True, "full": False, "models": "lstm"}, "unknown model type 'lstm'"),
    ({"quick": True, "full": False, "models": "tcn:huge"}, "unknown model variant 'huge'"),
    ({"quick": True, "full": False, "models": "tcn,tcn:default"}, "names tcn:default twice"),
    ({"quick": True, "full": False, "models": " , "}, "--models is empty"),
    ({"quick": True, "full": False, "seeds": 0}, "--seeds must be at least 1"),
    ({"quick": True, "full": False, "walk_forward": 0}, "--walk-forward must be at least 1"),
    ({"quick": True, "full": False, "days": -1}, "--days must be positive"),
    ({"quick": True, "full": False, "epochs": 0}, "--epochs must be at least 1"),
    ({"quick": True, "full": False, "data_source": "ftp"}, "unknown data source 'ftp'"),
    ({"quick": True, "full": False, "data_source": "file"}, "needs --data-file"),
    ({"quick": True, "full": False, "data_file": "/no/such.csv"}, "no such file"),
    ({"quick": True, "full": False, "end_date": "2022-12-32"}, "--end-date: cannot read '2022-12-32' as a date"),
])
def test_bad_arguments_are_one_usage_error(kwargs, message):
    with pytest.raises(UsageError) as caught:
        make_settings(**kwargs)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_data_file_means_the_file_source(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("open_time,open,high,low,close,volume\n")
    assert make_settings(quick=True, full=False, data_file=f).data_source == "file"
    with pytest.raises(UsageError, match="cannot be combined"):
        make_settings(quick=True, full=False, data_file=f, data_source="synthetic")


def test_test_split_length_matches_the_dataset_split():
    # The dataset's own arithmetic (int() of 720 * 0.70 is 503): 109 test windows of 720, 26 of 168.
    assert bars_per_test_split(settings(days=30)) == 720 - int(720 * 0.70) - int(720 * 0.15) == 109
    assert bars_per_test_split(settings(days=7)) == 168 - int(168 * 0.70) - int(168 * 0.15) == 26


def test_folds_end_one_test_split_apart_oldest_first():
    last = pd.Timestamp("2022-12-31T23:00Z")
    ends = fold_ends(settings(walk_forward=3), last)
    assert ends == [last - pd.Timedelta(hours=218), last - pd.Timedelta(hours=109), last]
    assert fold_ends(settings(), last) == [last]


def test_fold_test_intervals_are_consecutive_and_one_test_split_long():
    last = pd.Timestamp("2022-12-31T23:00Z")
    folds = make_folds(settings(walk_forward=3), last)
    hour = pd.Timedelta(hours=1)
    assert [(f.number, f.test_start, f.end) for f in folds] == [
        (1, last - 326 * hour, last - 218 * hour), (2, last - 217 * hour, last - 109 * hour),
        (3, last - 108 * hour, last)]
    assert folds[2].to_dict() == {"fold": 3, "test_interval": {"start": "2022-12-27T11:00:00Z",
                                                               "end": "2022-12-31T23:00:00Z"}}
    plan = make_plan(settings(walk_forward=3), last)
    assert [(p.test_start, p.end) for p in plan[::3 * len(ARCHITECTURES)]] == [(f.test_start, f.end) for f in folds]
    assert all(p.test_start is None and p.end is None for p in make_plan(settings(walk_forward=3), None))


def test_end_date_includes_its_whole_day():
    assert settings(end_date="2022-12-30").end == pd.Timestamp("2022-12-30T23:59:59.999999999Z")
    assert settings(end_date="2022-12-30T12:00").end == pd.Timestamp("2022-12-30T12:00Z")
    assert settings(end_date="2022-12-30").to_dict()["end_date"] == "2022-12-30"
    assert settings().end is None


def test_plan_order_folds_then_seeds_then_models():
    last = pd.Timestamp("2022-12-31T23:00Z")
    plan = make_plan(settings(walk_forward=2, seeds=2), last)
    n = len(ARCHITECTURES)
    assert len(plan) == 2 * 2 * n and [p.index for p in plan] == list(range(1, 4 * n + 1))
    assert [(p.fold, p.seed, p.model.architecture) for p in plan[:n + 1]] == [
        *((1, 42, a) for a in ARCHITECTURES), (1, 43, "cnn_lstm")]
    assert plan[0].end < plan[-1].end == last
    assert plan[n].title == "cnn_lstm default seed 43 fold 1/2"
    assert make_plan(settings(seeds=1), last)[1].title == "attention_lstm default seed 42"


def test_train_request_carries_the_run():
    s = settings(models="tcn:deep", epochs=3, days=10)
    spec = make_plan(s, pd.Timestamp("2024-06-01T00:00Z"))[0]
    req = train_request(s, spec)
    req.validate()
    assert (req.architecture, req.variant, req.seed, req.epochs, req.days, req.end, req.data_source) == (
        "tcn", "deep", 42, 3, 10, spec.end, "synthetic")
    assert req.test_start == spec.test_start == spec.end - pd.Timedelta(hours=bars_per_test_split(s) - 1)
    assert req.extra["benchmark"] == "phase1" and req.extra["fold"] == 1
