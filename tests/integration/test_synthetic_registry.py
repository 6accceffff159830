"""Models of the synthetic market live under `<SYMBOL>-SYNTHETIC/price/` and never become a real symbol's
`latest`; `atb predict` refuses to mix synthetic and real markets and warns about stale candles."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from atb.data.files import read_candle_file
from atb.data.synthetic import SYNTHETIC_END, synthetic_candles
from atb.errors import ModelError
from atb.inference.predict import forecast_next
from atb.training.pipeline import TrainRequest, train_model

pytestmark = pytest.mark.slow
REAL_END = SYNTHETIC_END - pd.Timedelta(days=42)  # the "real" model's test split ends 6 weeks before the file


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> dict:
    """A real BTCUSDT model (trained on a CSV file), then a synthetic-market one: the order the bug needs."""
    root = tmp_path_factory.mktemp("reg")
    csv = root / "btc.csv"
    frame = synthetic_candles(3000, symbol="BTCUSDT", seed=11)  # prices from a file count as a real market
    frame.assign(open_time=frame.open_time.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(csv, index=False)
    models = root / "models"
    base = dict(symbol="BTCUSDT", architecture="tcn", variant="lightweight", days=8, epochs=1, models_dir=models,
                log_to_db=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATB_DATA_DIR", str(root / "data"))
        real = train_model(TrainRequest(**base, data_source="file", data_file=str(csv), end=REAL_END))
        synthetic = train_model(TrainRequest(**base, data_source="synthetic"))
    return {"models": models, "csv": csv, "real": real.version_dir, "synthetic": synthetic.version_dir}


def test_a_synthetic_run_never_touches_the_real_symbols_folder_or_latest(registry):
    models, real, synthetic = registry["models"], registry["real"], registry["synthetic"]
    assert synthetic.parent == models / "BTCUSDT-SYNTHETIC" / "price"
    assert os.readlink(models / "BTCUSDT-SYNTHETIC/price/latest") == synthetic.name
    assert sorted(p.name for p in (models / "BTCUSDT/price").iterdir()) == sorted([real.name, "latest"])
    assert os.readlink(models / "BTCUSDT/price/latest") == real.name
    meta = json.loads((synthetic / "metadata.json").read_text())
    assert meta["symbol"] == "BTCUSDT" and meta["data"]["synthetic"] is True  # the guide's jq queries read these


def test_predict_symbol_never_uses_a_synthetic_model(registry, atb_cli):
    result = atb_cli(["predict", "BTCUSDT", "--data-source", "synthetic", "--models-dir", str(registry["models"])])
    assert result.code == 1
    assert result.err.strip() == (f"error: {registry['real'].name} was trained on real BTCUSDT candles, not on the "
                                  "synthetic market; use a model of BTCUSDT-SYNTHETIC for synthetic candles")


def test_a_synthetic_model_refuses_real_candles(registry, atb_cli):
    with pytest.raises(ModelError, match="trained on the synthetic market and cannot forecast real BTCUSDT candles"):
        forecast_next(registry["synthetic"], read_candle_file(registry["csv"], "1h"))
    result = atb_cli(["predict", "BTCUSDT-SYNTHETIC", "--data-file", str(registry["csv"]),
                      "--models-dir", str(registry["models"])])
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1
    assert result.err.startswith(f"error: {registry['synthetic'].name} was trained on the synthetic market")


def test_a_synthetic_model_forecasts_the_synthetic_market(registry, atb_cli):
    result = atb_cli(["predict", "BTCUSDT-SYNTHETIC", "--data-source", "synthetic", "--json",
                      "--models-dir", str(registry["models"])])
    assert result.code == 0, result.err
    out = json.loads(result.out)
    assert out["version"] == registry["synthetic"].name and out["data"] == "synthetic" and out["warnings"] == []
    assert out["last_candle"] == SYNTHETIC_END.isoformat()


def test_only_synthetic_models_point_to_their_folder(tmp_path, registry, atb_cli):
    only = tmp_path / "models"
    (only / "BTCUSDT-SYNTHETIC").mkdir(parents=True)
    os.symlink(registry["models"] / "BTCUSDT-SYNTHETIC" / "price", only / "BTCUSDT-SYNTHETIC" / "price")
    result = atb_cli(["predict", "BTCUSDT", "--models-dir", str(only)])
    assert result.code == 1 and "models of the synthetic market are under BTCUSDT-SYNTHETIC" in result.err


def test_models_list_show_compare_and_db_sync_read_the_synthetic_folder(registry, atb_cli, data_dir, monkeypatch):
    models = str(registry["models"])
    listed = json.loads(atb_cli(["models", "list", "--json", "--models-dir", models]).out)
    assert sorted((r["symbol"], r["data"]) for r in listed) == [("BTCUSDT", "file:btc.csv"),
                                                                  ("BTCUSDT-SYNTHETIC", "synthetic")]
    shown = atb_cli(["models", "show", "btcusdt-synthetic", "--json", "--models-dir", models])
    assert json.loads(shown.out)["version_id"] == registry["synthetic"].name
    compared = atb_cli(["models", "compare", "BTCUSDT-SYNTHETIC", "--json", "--models-dir", models])
    assert compared.code == 0 and json.loads(compared.out)["rows"][0]["version"] == registry["synthetic"].name

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("ATB_DB", raising=False)
    assert atb_cli(["db", "sync", "--models-dir", models]).code == 0
    runs = json.loads(atb_cli(["runs", "list", "--json"]).out)
    assert sorted((r["version_id"], r["symbol"], r["data_source"]) for r in runs) == sorted([
        (registry["real"].name, "BTCUSDT", "file:btc.csv"), (registry["synthetic"].name, "BTCUSDT", "synthetic")])


def test_stale_candles_warn_and_the_forecast_stands(registry):
    candles = read_candle_file(registry["csv"], "1h")
    meta = json.loads((registry["real"] / "metadata.json").read_text())
    recent = candles[candles.open_time <= pd.Timestamp(meta["data"]["test"]["end"])].reset_index(drop=True)
    last = recent.open_time.iloc[-1]
    assert forecast_next(registry["real"], recent, now=last + pd.Timedelta(hours=2)).warnings == ()
    stale = forecast_next(registry["real"], recent, now=last + pd.Timedelta(hours=3, minutes=5))
    assert stale.predicted_close > 0
    assert stale.warnings == (f"the newest candle opened {last:%Y-%m-%d %H:%M} UTC, 3 bars (1h) before now: this "
                              "forecast is not for the coming candle; update the candles first (e.g. 'atb data "
                              "download BTCUSDT --timeframe 1h --days 7')",)
    late = forecast_next(registry["real"], candles, now=SYNTHETIC_END + pd.Timedelta(minutes=70))
    [warning] = late.warnings
    assert warning.startswith("the newest candle is 42 days after the end of this model's test split (2024-11-20)")


def test_predict_prints_the_warnings_on_stderr(registry, atb_cli):
    result = atb_cli(["predict", "BTCUSDT", "--data-file", str(registry["csv"]), "--models-dir",
                      str(registry["models"])])
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, result.err
    assert "bars (1h) before now" in warnings[0] and "days after the end of this model's test split" in warnings[1]
    assert "forecast" in result.out
