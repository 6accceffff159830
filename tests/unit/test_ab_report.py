"""`atb ab report`'s rules on a hand-made log: one forecast per version and target time (the latest on time),
late and mismatched forecasts left out, both roles scored on the same realised target times (recomputed here
from the joined table), the DM decision, the backtest threshold's source; and `atb ab promote`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atb.evaluation.metrics import evaluate_forecasts
from atb.evaluation.stats import diebold_mariano
from atb.registry.metadata import VersionMetadata
from atb.serving.ab_report import MIN_N, build_report, counted_forecasts, validation_threshold
from fakes.serving import candles

HOUR = pd.Timedelta(hours=1)


def log_rows(market: pd.DataFrame, version: str, role: str, noise: float, seed: int,
             targets: slice = slice(1, None)) -> pd.DataFrame:
    """One on-time forecast per target: the truth plus noise of the given size (in price units)."""
    rng = np.random.default_rng(seed)
    close = market.set_index("open_time")["close"]
    target_times = market["open_time"].iloc[targets]
    last = close.reindex(target_times - HOUR).to_numpy()
    predicted = close.reindex(target_times).to_numpy() + rng.normal(0, noise, len(target_times))
    return pd.DataFrame({
        "created_at": target_times + pd.Timedelta(seconds=3), "symbol": "BTCUSDT", "version_id": version,
        "role": role, "answered": role == "champion", "source": "follow", "timeframe": "1h",
        "last_time": target_times - HOUR, "target_time": target_times, "last_close": last,
        "predicted_return": np.log(predicted / last), "predicted_close": predicted, "latency_ms": 1.0,
    })


def report(rows: pd.DataFrame, market: pd.DataFrame, **kw):
    meta = kw.pop("metadata", {})
    return build_report("BTCUSDT", rows, market, champion="champ", challenger="chall", timeframe="1h", horizon=1,
                        metadata=meta, **kw)


@pytest.fixture
def market() -> pd.DataFrame:
    return candles(260)


def test_a_better_challenger_is_promoted_on_the_same_target_times(market: pd.DataFrame) -> None:
    rows = pd.concat([log_rows(market, "champ", "champion", 40.0, 1), log_rows(market, "chall", "challenger", 5.0, 2,
                                                                              targets=slice(30, None))])
    result = report(rows, market)
    shared = market["open_time"].iloc[30:]
    assert result.n == len(shared) and result.first_target.startswith(f"{shared.iloc[0]:%Y-%m-%dT%H:%M}")
    assert result.decision == "promote" and result.dm["p_value_one_sided"] < 0.05 and result.dm["statistic"] < 0
    champion, challenger = result.roles
    assert (champion.counted, challenger.counted) == (259, 230)
    # recomputed from the joined table: the report's figures are evaluate_forecasts' on the shared targets
    close = market.set_index("open_time")["close"]
    actual = close.reindex(shared).to_numpy()
    for score, version in ((champion, "champ"), (challenger, "chall")):
        mine = rows[rows["version_id"] == version].set_index("target_time").loc[shared]
        expected = evaluate_forecasts(mine["last_close"].to_numpy(), actual, mine["predicted_close"].to_numpy())
        assert score.metrics["test_rmse"] == pytest.approx(expected["test_rmse"])
        assert score.metrics["directional_pt_p_value"] == pytest.approx(expected["directional_pt_p_value"],
                                                                        nan_ok=True)
        assert score.backtest["bars"] == len(shared)
    errors = {v: rows[rows["version_id"] == v].set_index("target_time").loc[shared, "predicted_close"].to_numpy()
              - actual for v in ("champ", "chall")}
    dm = diebold_mariano(errors["chall"], errors["champ"])
    assert result.dm["statistic"] == pytest.approx(dm.statistic)
    assert result.dm["p_value_one_sided"] == pytest.approx(dm.p_value_one_sided)


def test_keep_when_no_better_and_not_enough_data_below_the_minimum(market: pd.DataFrame) -> None:
    same = pd.concat([log_rows(market, "champ", "champion", 20.0, 1), log_rows(market, "chall", "challenger", 20.0, 2)])
    assert report(same, market).decision == "keep"
    worse = pd.concat([log_rows(market, "champ", "champion", 5.0, 1), log_rows(market, "chall", "challenger", 40.0, 2)])
    assert report(worse, market).decision == "keep"  # one-sided: a worse challenger is never promoted
    few = pd.concat([log_rows(market, "champ", "champion", 40.0, 1, slice(1, 60)),
                     log_rows(market, "chall", "challenger", 1.0, 2, slice(1, 60))])
    result = report(few, market)
    assert result.n == 59 < MIN_N and result.decision == f"not enough data (n < {MIN_N})"
    alone = report(log_rows(market, "champ", "champion", 5.0, 1), market, )
    assert alone.decision.startswith("not enough data")


def test_only_the_latest_on_time_forecast_counts(market: pd.DataFrame) -> None:
    rows = log_rows(market, "champ", "champion", 10.0, 1)
    target = rows["target_time"].iloc[100]
    earlier = rows.iloc[[100]].assign(created_at=target - pd.Timedelta(minutes=30), predicted_close=1.0)
    late = rows.iloc[[100]].assign(created_at=target + pd.Timedelta(minutes=7), predicted_close=2.0)  # after 6 min
    kept, too_late = counted_forecasts(pd.concat([rows, earlier, late]), "champ", pd.Timedelta(minutes=6))
    assert too_late == 1
    assert kept.loc[target, "predicted_close"] == rows["predicted_close"].iloc[100]  # the latest on time


def test_backfills_and_foreign_candles_are_left_out_and_counted(market: pd.DataFrame) -> None:
    champ = log_rows(market, "champ", "champion", 10.0, 1)
    chall = log_rows(market, "chall", "challenger", 10.0, 2)
    backfill = champ.iloc[:20].assign(created_at=pd.Timestamp("2026-06-01", tz="UTC"), version_id="chall",
                                      role="challenger")
    chall = chall.iloc[20:]
    chall.loc[chall.index[:5], "last_close"] *= 1.01  # a client's own candles
    result = report(pd.concat([champ, chall, backfill]), market)
    assert result.late == 20 and result.mismatched == 5
    assert result.n == 259 - 20 - 5


def test_pending_targets_wait_for_their_candle(market: pd.DataFrame) -> None:
    rows = pd.concat([log_rows(market, "champ", "champion", 10.0, 1), log_rows(market, "chall", "challenger", 10.0, 2)])
    result = report(rows, market.iloc[:-10])  # the last 10 candles have not closed yet
    assert result.pending == 10 and result.n == 249


def test_the_backtest_threshold_comes_from_validation_or_is_zero_and_says_so(market: pd.DataFrame) -> None:
    assert validation_threshold(VersionMetadata.from_json({"backtest": {"threshold": 0.0007}})) == 0.0007
    assert validation_threshold(VersionMetadata.from_json({"backtest": {"threshold": None}})) is None
    assert validation_threshold(VersionMetadata.from_json({})) is None
    rows = pd.concat([log_rows(market, "champ", "champion", 10.0, 1), log_rows(market, "chall", "challenger", 10.0, 2)])
    meta = {"champ": VersionMetadata.from_json({"backtest": {"threshold": 0.0007}}), "chall": None}
    champion, challenger = report(rows, market, metadata=meta).roles
    assert champion.threshold == 0.0007 and champion.threshold_source.startswith("validation")
    assert challenger.threshold == 0.0 and "no validation threshold" in challenger.threshold_source


def test_promote_moves_the_champion_and_says_what_it_replaced(tmp_path: Path, atb_cli) -> None:
    from fakes.serving import CHALLENGER, CHAMPION, registry

    root = registry(tmp_path / "models", "BTCUSDT", real=True)
    args = ["--models-dir", str(root)]
    first = atb_cli(["ab", "promote", "BTCUSDT", CHALLENGER, *args])
    assert first.code == 0 and f"champion {CHALLENGER} (replaces no champion)" in first.out
    again = atb_cli(["ab", "promote", "btcusdt", "latest", *args])
    assert again.code == 0 and f"champion {CHAMPION} (replaces {CHALLENGER})" in again.out
    missing = atb_cli(["ab", "promote", "BTCUSDT", "2020-01-01_000000_tcn_default", *args])
    assert missing.code == 1 and missing.err.startswith("error: model version '2020-01-01_000000_tcn_default' not "
                                                        "found")
