"""`atb serve --follow` over a replay of 200 bars of the shared BTCUSDT 1h file, compressed in time: a fake Binance
on 127.0.0.1 serves the candles, a replay clock jumps from bar close to bar close, the champion and a shadow
challenger forecast every bar into the run-log database, an exchange outage mid-replay costs a warning and a
retry (no bar lost, no crash), and `atb ab report` then prints both roles, the DM line and the decision."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from atb.data import exchange as exchange_module
from atb.data.exchange import RetryPolicy
from atb.data.files import read_candle_file
from atb.serving.app import Server
from atb.serving.config import Challenger, ServeConfig
from atb.tracking.served import read_rows
from fakes.binance import KLINES, FakeBinance, Fault, point_at
from fakes.serving import CHALLENGER, CHAMPION, registry

BARS = 200  # replayed bar closes
HISTORY = 400  # candles before the replay (the models need 274)
FAST = RetryPolicy(timeout_s=2.0, backoff_s=0.01, max_backoff_s=0.05, attempts=4, busy_budget_s=10.0,
                   unreachable_attempts=2, unreachable_budget_s=3.0)


class Replay:
    """Market time that jumps ahead instead of sleeping; at ``fault_at`` the exchange starts failing."""

    def __init__(self, start: float, end: float, fake: FakeBinance, fault_at: float) -> None:
        self.now, self.end, self.fake, self.fault_at = start, end, fake, fault_at
        self.looks: list[float] = []

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.now += seconds
        self.looks.append(self.now)
        if self.fault_at is not None and self.now >= self.fault_at:
            self.fake.fail(*[Fault(status=503)] * FAST.attempts)  # one look fails entirely
            self.fault_at = None
        return self.now > self.end


@pytest.fixture
def market(shared_data: Path) -> pd.DataFrame:
    candles = read_candle_file(shared_data / "BTCUSDT_1h_2017-08_2022-12.csv", "1h")
    return candles.iloc[-(HISTORY + BARS):].reset_index(drop=True)


def test_follow_replay_fills_the_ab_log_and_the_report_decides(market: pd.DataFrame, tmp_path: Path, data_dir: Path,
                                                               atb_cli, caplog: pytest.LogCaptureFixture) -> None:
    root = registry(tmp_path / "models", "BTCUSDT", real=True)
    first_close = market["open_time"].iloc[HISTORY - 1] + pd.Timedelta(hours=1)  # the first replayed bar closes
    start = first_close.timestamp() + 2
    end = (market["open_time"].iloc[-1] + pd.Timedelta(hours=1)).timestamp() - 1  # before the last one closes
    with FakeBinance({("BTCUSDT", "1h"): market}) as fake:
        replay = Replay(start, end, fake, fault_at=start + 100 * 3600)
        exchange = point_at(exchange_module.make_exchange("binance", FAST), fake.base_url)
        config = ServeConfig(models_dir=root, symbols=("BTCUSDT",), challenger=Challenger(CHALLENGER, "shadow"),
                             follow=True, reload_interval_s=0)
        server = Server(config, clock=replay.clock, follow_wait=replay.wait, exchange=exchange, policy=FAST)
        server.start()
        server._follow_thread.join(120)
        assert not server._follow_thread.is_alive()
        server.stop()
        klines = fake.count(KLINES)
    rows = pd.DataFrame(read_rows("BTCUSDT"))
    assert len(rows) == 2 * BARS and set(rows["source"]) == {"follow"}
    for role, version in (("champion", CHAMPION), ("challenger", CHALLENGER)):
        mine = rows[rows["role"] == role]
        assert set(mine["version_id"]) == {version} and not mine["answered"].any()
        targets = pd.to_datetime(mine["target_time"], utc=True)
        expected = market["open_time"].iloc[HISTORY:].reset_index(drop=True)
        assert list(targets) == list(expected)  # every bar, once, in order
        made = pd.to_datetime(mine["created_at"], utc=True).reset_index(drop=True)
        late = (made - pd.to_datetime(expected, utc=True)).dt.total_seconds()
        assert late.between(0, 40).all()  # at the bar close (+2 s; +30 s once, after the outage's retry)
    assert klines < 4 * BARS  # through the cache: each bar close asks for about one new candle
    warnings = [r.getMessage() for r in caplog.records if "--follow BTCUSDT" in r.getMessage()]
    assert len(warnings) == 2 and "keeps failing (HTTP 503)" in warnings[0] and "again" in warnings[1]

    report = atb_cli(["ab", "report", "BTCUSDT", "--models-dir", str(root)])  # realised candles: the cache
    assert report.code == 0, report.err
    text = " ".join(report.out.split())
    assert f"champion {CHAMPION}" in text and f"challenger {CHALLENGER}" in text
    assert f"on {BARS - 1} shared realised target times" in text  # the last bar has not closed in the replay
    assert "DM challenger vs champion: statistic" in text and "one-sided p =" in text
    assert any(f"decision: {d}" in text for d in ("promote", "keep"))
    page = tmp_path / "ab.html"
    assert atb_cli(["ab", "report", "BTCUSDT", "--models-dir", str(root), "--html", str(page)]).code == 0
    html = page.read_text()
    assert CHAMPION in html and CHALLENGER in html and "DM" in html  # the command's page, both roles
    doc = json.loads(atb_cli(["ab", "report", "BTCUSDT", "--models-dir", str(root), "--json"]).out)
    assert doc["n"] == BARS - 1 and doc["pending"] == 1 and doc["late"] == 0
    assert [r["role"] for r in doc["roles"]] == ["champion", "challenger"]
    assert doc["decision"] in ("promote", "keep") and doc["dm_challenger_vs_champion"]["n"] == BARS - 1
