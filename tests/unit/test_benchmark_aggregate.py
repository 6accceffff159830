"""Summaries across seeds and folds: the numbers come from compare(), the DM tests from the pooled windows."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest

from atb.benchmark.aggregate import summarize
from atb.benchmark.records import RunRecord
from atb.errors import DataError
from atb.evaluation.comparison import Entry, compare
from atb.evaluation.stats import diebold_mariano
from atb.registry.metadata import VersionMetadata

SKILL = {"cnn_lstm": 0.3, "attention_lstm": 0.5, "tcn": 0.4}  # share of the next move each model foresees


def market(fold: int, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(fold)
    times = pd.date_range("2025-01-01", periods=n, freq="h", tz="UTC") + pd.Timedelta(hours=n * fold)
    last = 100 + rng.normal(0, 1, n).cumsum()
    return pd.DataFrame({"target_time": times, "last_close": last, "actual_close": last + rng.normal(0, 1, n)})


def entry(arch: str, seed: int, fold: int, noise: float = 0.3, same_for_all_seeds: bool = False) -> Entry:
    m = market(fold)
    rng = np.random.default_rng(zlib.crc32(f"{arch}/{0 if same_for_all_seeds else seed}/{fold}".encode()))
    move = m["actual_close"] - m["last_close"]
    m["predicted_close"] = m["last_close"] + SKILL[arch] * move + rng.normal(0, noise, len(m))
    meta = {"training_params": {"architecture": arch, "architecture_variant": "default"},
            "version_id": f"v-{arch}-{seed}-{fold}",
            "performance": {"training_time_s": 10.0 + seed - 42, "inference_ms_p50": 0.1, "parameters": 1000}}
    return Entry(f"{arch} (default)", VersionMetadata.from_json(meta), m)


def runs(seeds=(42,), folds=(1,), archs=tuple(SKILL), **kw) -> tuple[list[RunRecord], dict[int, Entry]]:
    records, entries = [], {}
    for fold in folds:
        for seed in seeds:
            for arch in archs:
                i = len(records) + 1
                records.append(RunRecord(i, arch, "default", seed, fold, "completed", version_id=f"v{i}"))
                entries[i] = entry(arch, seed, fold, **kw)
    return records, entries


def test_one_seed_one_fold_matches_compare_exactly():
    records, entries = runs()
    summary = summarize(records, entries)
    direct = compare(list(entries.values()))
    assert [r.label for r in summary.rows] == [r.label for r in direct.rows]
    for s_row, c_row in zip(summary.rows, direct.rows, strict=True):
        assert s_row.mean["test_rmse"] == pytest.approx(c_row.metrics["test_rmse"])
        assert s_row.mean["directional_accuracy"] == pytest.approx(c_row.metrics["directional_accuracy"],
                                                                   nan_ok=True) or s_row.is_naive
        assert s_row.std["test_rmse"] is None
        if c_row.dm_vs_baseline:
            assert s_row.dm_vs_baseline["p_value"] == pytest.approx(c_row.dm_vs_baseline["p_value"])
        if not c_row.is_naive:
            assert s_row.dm_vs_naive["p_value"] == pytest.approx(c_row.metrics["dm_vs_naive"]["p_value"])
    assert summary.baseline == "cnn_lstm (default)" and summary.windows == 60


def test_mean_and_std_across_seeds_come_from_per_seed_comparisons():
    records, entries = runs(seeds=(42, 43, 44))
    summary = summarize(records, entries)
    assert summary.seeds == [42, 43, 44] and len(summary.per_seed) == 3
    per_seed = [next(r for r in c.rows if r.label == "tcn (default)").metrics["test_rmse"] for c in summary.per_seed]
    tcn = summary.row("tcn (default)")
    assert tcn.mean["test_rmse"] == pytest.approx(np.mean(per_seed))
    assert tcn.std["test_rmse"] == pytest.approx(np.std(per_seed, ddof=1))
    assert tcn.mean["training_time_s"] == pytest.approx(11.0) and tcn.std["training_time_s"] == pytest.approx(1.0)
    naive = summary.row("naive (last close)")
    assert naive.is_naive and naive.std["test_rmse"] is None  # one forecast, whatever the seed
    assert summary.windows == 60  # the seeds share their windows


def test_seeds_that_agree_do_not_inflate_the_significance():
    one, one_entries = runs(seeds=(42,), same_for_all_seeds=True)
    three, three_entries = runs(seeds=(42, 43, 44), same_for_all_seeds=True)
    single = summarize(one, one_entries).row("attention_lstm (default)")
    pooled = summarize(three, three_entries).row("attention_lstm (default)")
    # Identical seeds are one piece of evidence: the seed-averaged test gives the one-seed p-value ...
    assert pooled.dm_vs_baseline["p_value"] == pytest.approx(single.dm_vs_baseline["p_value"])
    assert pooled.dm_vs_baseline["n"] == 60
    # ... while the plain concatenation (kept for reference) counts every window three times.
    assert pooled.dm_vs_baseline_concat_p < single.dm_vs_baseline["p_value"]


def test_seed_averaged_dm_is_dm_on_the_mean_squared_error_per_window():
    records, entries = runs(seeds=(42, 43))
    summary = summarize(records, entries)
    by = {(r.label, r.seed): entries[r.index].predictions for r in records}

    def mean_sq(label):
        return np.mean([(by[(label, s)]["predicted_close"] - by[(label, s)]["actual_close"]) ** 2
                        for s in (42, 43)], axis=0)

    d = diebold_mariano(np.sqrt(mean_sq("tcn (default)")), np.sqrt(mean_sq("cnn_lstm (default)")))
    assert summary.row("tcn (default)").dm_vs_baseline["p_value"] == pytest.approx(d.p_value)


def test_folds_pool_their_distinct_windows():
    records, entries = runs(seeds=(42, 43), folds=(1, 2))
    summary = summarize(records, entries)
    assert summary.folds == [1, 2] and summary.windows == 120
    assert summary.per_seed[0].windows == 120  # each seed's comparison covers both folds
    fold_two = summarize([r for r in records if r.fold == 2], entries)
    assert fold_two.windows == 60 and fold_two.start > summary.start


def test_a_target_time_scored_by_two_folds_is_refused():
    records, entries = runs(seeds=(42, 43), folds=(1, 2))
    for r in records:  # fold 2's test windows start ten hours inside fold 1's
        if r.fold == 2 and r.architecture == "tcn" and r.seed == 43:
            entries[r.index].predictions["target_time"] -= pd.Timedelta(hours=10)
    with pytest.raises(DataError, match=r"tcn \(default\) seed 43: 10 test target times are scored by more than one "
                                        r"walk-forward fold \(the first, 2025-01-05 14:00, by folds 1, 2\)"):
        summarize(records, entries)
    assert summarize([r for r in records if r.fold == 2], entries) is not None  # one fold alone is fine


def test_a_failed_run_leaves_the_others_comparable():
    records, entries = runs(seeds=(42, 43))
    failed = next(r for r in records if r.architecture == "tcn" and r.seed == 43)
    failed.status, failed.error = "failed", "DataError: boom"
    del entries[failed.index]
    summary = summarize(records, entries)
    assert summary.row("tcn (default)").seeds == 1
    assert summary.row("attention_lstm (default)").seeds == 2


def test_no_completed_run_gives_no_summary():
    records, _ = runs()
    for r in records:
        r.status = "failed"
    assert summarize(records, {}) is None


def test_without_the_baseline_there_are_no_improvements():
    records, entries = runs(archs=("attention_lstm", "tcn"))
    summary = summarize(records, entries)
    assert summary.baseline is None
    assert all(r.mean["rmse_improvement_pct"] is None and r.dm_vs_baseline is None for r in summary.rows)
    assert any("no cnn_lstm version" in n for n in summary.notes)


def test_a_worse_model_is_never_reported_as_better():
    """Seed 42: attention's errors are a tenth of the baseline's; seeds 43 and 44: 1.2x the baseline's, whose
    errors there are 3x larger. The mean of the per-seed RMSE improvements is +17% (old headline: Scenario 1,
    "significant"), but over the three seeds together attention's squared errors are larger."""
    scale = {("cnn_lstm", 42): 1.0, ("attention_lstm", 42): 0.1,
             ("cnn_lstm", 43): 3.0, ("attention_lstm", 43): 3.6, ("cnn_lstm", 44): 3.0, ("attention_lstm", 44): 3.6}
    records, entries = [], {}
    m = market(1, n=400)
    noise = np.random.default_rng(11).normal(0, 1, len(m))
    for seed in (42, 43, 44):
        for arch in ("cnn_lstm", "attention_lstm"):
            i = len(records) + 1
            records.append(RunRecord(i, arch, "default", seed, 1, "completed", version_id=f"v{i}"))
            p = m.assign(predicted_close=m["actual_close"] + scale[(arch, seed)] * noise)
            meta = {"training_params": {"architecture": arch, "architecture_variant": "default"},
                    "performance": {"training_time_s": 1.0}}
            entries[i] = Entry(f"{arch} (default)", VersionMetadata.from_json(meta), p)
    row = summarize(records, entries).row("attention_lstm (default)")
    seeds = row.seed_values["rmse_improvement_pct"]
    assert np.mean(seeds) > 10  # what the old headline averaged
    assert row.mean["rmse_improvement_pct"] < 0  # pooled: worse, the quantity the DM test is on
    assert row.dm_vs_baseline["statistic"] > 0 and row.dm_vs_baseline["p_value_one_sided"] > 0.99

    from atb.benchmark.decision import decide

    flat = [r.flat() for r in summarize(records, entries).rows]
    decision = decide(flat, windows=400)
    assert decision.scenario == 4 and not decision.significant
    assert "improvement" not in decision.headline.lower() or "no improvement" in decision.headline.lower()


def test_pooled_improvement_and_dm_statistic_always_agree_in_sign():
    for seeds in ((42,), (42, 43, 44)):
        records, entries = runs(seeds=seeds)
        for row in summarize(records, entries).rows:
            if row.dm_vs_baseline:
                assert np.sign(row.mean["rmse_improvement_pct"]) == -np.sign(row.dm_vs_baseline["statistic"])
            if row.dm_vs_naive:
                assert np.sign(row.mean["rmse_skill_vs_naive"]) == -np.sign(row.dm_vs_naive["statistic"])
