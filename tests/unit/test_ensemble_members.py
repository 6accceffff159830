"""Which versions can be an ensemble's members, and that the combiner is fitted on validation rows only
(hand-made versions: no torch)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import atb.ensemble.build as build
from atb.ensemble.build import fit_stack, forecasts
from atb.ensemble.members import load_members
from atb.errors import ModelError, UsageError
from fakes.versions import write_version

NAMES = ("2025-01-05_000000_cnn_lstm_default", "2025-01-05_000001_attention_lstm_default",
         "2025-01-05_000002_tcn_default")


def three(root, **kw) -> list:
    return [write_version(root, n, architecture=n.split("_", 2)[2].rsplit("_", 1)[0], skill=s, **kw)
            for n, s in zip(NAMES, (0.3, 0.5, 0.1), strict=True)]


def poison_test_rows(path, rng) -> None:
    """Every test row's forecast replaced by garbage, and the market's test closes by other (shared) garbage."""
    table = pd.read_parquet(path / "predictions.parquet")
    test = table["split"] == "test"
    table.loc[test, "predicted_close"] = rng.uniform(1, 1e6, test.sum())
    garbage = np.random.default_rng(99).uniform(1, 1e6, test.sum())  # the same in every member
    table.loc[test, "actual_close"] = garbage
    table.loc[test, "last_close"] = garbage[::-1]
    table.to_parquet(path / "predictions.parquet", index=False)


@pytest.mark.parametrize("method", ["nnls", "ridge", "mean"])
def test_the_combiner_never_reads_a_test_row(tmp_path, method, monkeypatch):
    paths = three(tmp_path)
    seen = []
    fit = build.fit_combiner
    monkeypatch.setattr(build, "fit_combiner", lambda m, x, y: seen.append(len(y)) or fit(m, x, y))
    before = fit_stack(load_members(paths), method)
    rng = np.random.default_rng(1)
    for p in paths:
        poison_test_rows(p, rng)
    after = fit_stack(load_members(paths), method)
    assert seen == [120, 120]  # the validation rows, both times
    assert after.combiner.to_dict() == before.combiner.to_dict()
    assert (after.best, after.validation_mse) == (before.best, before.validation_mse)
    if method == "nnls":
        assert (before.combiner.weights >= 0).all()


def test_forecasts_apply_the_weights_to_the_members_log_returns(tmp_path):
    members = load_members(three(tmp_path))
    stack = fit_stack(members, "nnls")
    for split in ("validation", "test"):
        got = forecasts(members, stack.combiner, split)
        rows = [m.rows(split) for m in members]
        returns = np.column_stack([np.log(r["predicted_close"] / r["last_close"]) for r in rows])
        expected = rows[0]["last_close"] * np.exp(stack.combiner.intercept + returns @ stack.combiner.weights)
        np.testing.assert_allclose(got["predicted_close"], expected, rtol=1e-12)
        assert list(got["target_time"]) == list(rows[0]["target_time"])
    best = int(np.argmin([np.mean((m.rows("validation")["predicted_close"] - m.rows("validation")["actual_close"])
                                  ** 2) for m in members]))
    assert stack.best == best  # the best member is decided on validation


def _edit(path, change) -> None:
    table = pd.read_parquet(path / "predictions.parquet")
    change(table)
    table.to_parquet(path / "predictions.parquet", index=False)


def _move_a_test_time(table: pd.DataFrame) -> None:
    table.loc[table.index[table["split"] == "test"][5], "target_time"] += pd.Timedelta(minutes=30)


def _move_a_close(table: pd.DataFrame) -> None:
    table.loc[table.index[table["split"] == "validation"][7], "actual_close"] *= 1.01


MISMATCHES = {
    "symbol": (dict(symbol="ETHUSDT"), None, "different symbols: .* is BTCUSDT, .* is ETHUSDT"),
    "timeframe": (dict(timeframe="4h"), None, "different timeframes: .* is 1h, .* is 4h"),
    "horizon": (dict(horizon=3), None, "different horizons: .* is 1 bar ahead, .* is 3 bars ahead"),
    "market": (dict(synthetic=True), None, "different data: .* is real market data, .* is synthetic"),
    "data range": (dict(train_start="2024-11-20T00:00:00Z"), None,
                   r"differ in data ranges: .* has targets 2024-12-01 00:00 \.\. 2025-01-05 03:00, .* has targets "
                   r"2024-11-20 00:00"),
    "validation times": (dict(n_validation=110), None,
                         r"differ in validation target times: .* has 120 \(2024-12-27 00:00 \.\. 2024-12-31 23:00\), "
                         r".* has 110 \(2024-12-27 10:00"),
    "test times": ({}, _move_a_test_time, "differ in test target times: .* scores 2025-01-01 05:00, .* does not"),
    "candles": ({}, _move_a_close, "were trained on different candles: at 2024-12-27 07:00 \\(validation\\) .* has "
                                   "actual_close"),
}


@pytest.mark.parametrize("kind", MISMATCHES)
def test_members_that_differ_are_refused_in_one_line_naming_what(tmp_path, kind, atb_cli):
    kw, change, message = MISMATCHES[kind]
    paths = three(tmp_path)
    odd = write_version(tmp_path, "2025-01-05_000003_tcn_default", architecture="tcn", folder="BTCUSDT", **kw)
    if change is not None:
        _edit(odd, change)
    prefix = "^members cannot be combined: (cannot compare versions with |they )?"
    with pytest.raises(UsageError, match=prefix + message):
        load_members([paths[0], odd])
    # the same through the CLI: one line, exit code 2, both members named
    result = atb_cli(["train", "ensemble", "BTCUSDT", "--members", f"{NAMES[0]},{odd.name}", "--models-dir",
                      str(tmp_path), "--no-db"])
    assert result.code == 2 and result.err.count("\n") == 1, result.err
    assert result.err.startswith("error: members cannot be combined") and odd.name in result.err


def test_a_member_without_validation_predictions_is_refused_by_name(tmp_path, atb_cli):
    paths = three(tmp_path)
    old = write_version(tmp_path, "2025-01-05_000004_tcn_default", architecture="tcn", with_validation=False)
    with pytest.raises(ModelError, match=f"^{old.name} has no validation predictions"):
        load_members([*paths, old])
    result = atb_cli(["train", "ensemble", "BTCUSDT", "--members", f"{NAMES[0]},{old.name}", "--models-dir",
                      str(tmp_path), "--no-db"])
    assert result.code == 1 and result.err.count("\n") == 1 and old.name in result.err


def test_an_ensemble_a_repeated_member_or_a_single_one_is_refused(tmp_path, atb_cli):
    paths = three(tmp_path)
    ens = write_version(tmp_path, "2025-01-05_000005_ensemble_nnls", architecture="ensemble")
    with pytest.raises(UsageError, match="is an ensemble; the members of an ensemble must be single models"):
        load_members([paths[0], ens])
    with pytest.raises(UsageError, match=f"{NAMES[0]} is named twice"):
        load_members([paths[0], paths[0]])
    with pytest.raises(UsageError, match=r"at least 2 members \(got 1\)"):
        load_members(paths[:1])
    for argv, message in ((["--members", NAMES[0], "--from-benchmark", "x.json"], "one of the two"),
                          ([], "one of the two"), (["--members", NAMES[0], "--method", "vote"],
                                                   "unknown ensemble method 'vote'")):
        result = atb_cli(["train", "ensemble", "BTCUSDT", *argv, "--models-dir", str(tmp_path), "--no-db"])
        assert result.code == 2 and result.err.count("\n") == 1 and message in result.err, result.err
