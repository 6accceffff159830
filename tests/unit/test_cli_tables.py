"""Tables readable at 80 columns and when piped: version ids and numbers whole, whatever the width; read-only
commands create nothing."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from atb.cli.tables import Col, print_table

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "versions"
SOURCE = "2026-12-02_180708_cnn_lstm_lightweight"
# Long names on purpose: the longest architecture and variant names of the table.
NAMES = {"cnn_lstm": "2026-12-02_184312_cnn_lstm_default",
         "attention_lstm": "2026-12-02_184401_attention_lstm_lightweight",
         "tcn": "2026-12-02_184455_tcn_default"}


@pytest.fixture
def models(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three versions of one market (copies of the fixture version, renamed) with `latest` at the last."""
    monkeypatch.setenv("COLUMNS", "80")
    price = tmp_path / "models" / "BTCUSDT-SYNTHETIC" / "price"
    for arch, name in NAMES.items():
        shutil.copytree(FIXTURES / SOURCE, price / name)
        meta = json.loads((price / name / "metadata.json").read_text())
        meta["version_id"] = name
        meta["training_params"].update(architecture=arch, architecture_variant=name.rsplit("_", 1)[1])
        (price / name / "metadata.json").write_text(json.dumps(meta))
    (price / "latest").symlink_to(NAMES["tcn"])
    return tmp_path / "models"


def _lines_fit(text: str, width: int = 80) -> None:
    too_long = [line for line in text.splitlines() if len(line.rstrip()) > width]
    assert not too_long, too_long


def test_models_list_at_80_columns_shows_whole_version_ids_and_numbers(atb_cli, models):
    table = atb_cli(["models", "list", "--models-dir", str(models)])
    rows = json.loads(atb_cli(["models", "list", "--json", "--models-dir", str(models)]).out)
    assert table.code == 0 and "…" not in table.out
    _lines_fit(table.out)
    for row in rows:
        assert row["version"] in table.out
        assert f"{row['test_rmse']:.4f}" in table.out and f"{row['naive_test_rmse']:.4f}" in table.out


def test_models_compare_at_80_columns_cuts_no_number(atb_cli, models):
    table = atb_cli(["models", "compare", "BTCUSDT-SYNTHETIC", "--models-dir", str(models)])
    data = json.loads(atb_cli(["models", "compare", "BTCUSDT-SYNTHETIC", "--json", "--models-dir", str(models)]).out)
    assert table.code == 0 and "…" not in table.out
    _lines_fit(table.out)
    for row in data["rows"]:
        m = row["metrics"]
        for value in (f"{m['test_rmse']:.4f}", f"{m['test_mae']:.4f}", f"{m['mape']:.3f}"):
            assert value in table.out, value
        if not row["is_naive"]:
            lo, hi = m["directional_accuracy_ci95"]
            assert f"{m['directional_accuracy']:.1f} [{lo:.1f}, {hi:.1f}]" in table.out


@pytest.mark.parametrize("width", [60, 80])
def test_a_wide_table_is_split_and_repeats_its_key_column(width):
    console = Console(width=width, record=True, color_system=None)
    cols = [Col("version", "left"), *[Col(f"metric {i}") for i in range(6)]]
    rows = [["2026-12-02_184401_attention_lstm_default", *[f"{1234.5678 + i:.4f}" for i in range(6)]]]
    print_table(console, cols, rows)
    text = console.export_text()
    assert text.count("2026-12-02_184401_attention_lstm_default") >= 2  # the key column in every part
    assert all(f"{1234.5678 + i:.4f}" in text for i in range(6))
    _lines_fit(text, width)


def test_a_terminal_too_narrow_for_any_table_gets_records():
    console = Console(width=40, record=True, color_system=None)
    cols = [Col("version", "left"), Col("RMSE"), Col("naive RMSE")]
    print_table(console, cols, [["2026-12-02_184401_attention_lstm_default", "34.2389", "34.2512"]])
    text = console.export_text()
    assert "2026-12-02_184401_attention_lstm_default" in text and "  RMSE: 34.2389" in text


def test_runs_list_on_a_fresh_machine_creates_no_database(atb_cli, data_dir, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for command in (["runs", "list"], ["runs", "list", "--json"], ["models", "list"], ["db", "check"]):
        result = atb_cli(command)
        assert result.code == 0, (command, result.err)
    assert not data_dir.exists() or not any(data_dir.rglob("*")), list(data_dir.rglob("*"))
    assert json.loads(atb_cli(["runs", "list", "--json"]).out) == []


def test_runs_list_shows_each_runs_data_source(atb_cli, data_dir, monkeypatch):
    from atb.tracking import open_run_log

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    for i, source in enumerate(("exchange:binance", "cache: imported from BTCUSDT_1h.csv", "synthetic")):
        log = open_run_log(enabled=True)
        log.start({"version_id": f"v{i}", "symbol": "BTCUSDT", "timeframe": "1h", "architecture": "tcn",
                   "variant": "default", "params": {}, "data_source": source})
    table = atb_cli(["runs", "list"]).out
    _lines_fit(table)
    assert all(re.search(rf"\b{kind}\b", table) for kind in ("exchange", "cache", "synthetic")), table


def test_the_notes_below_a_split_table_wrap_at_the_terminals_width_not_the_last_parts() -> None:
    console = Console(width=80, record=True, force_terminal=False)
    cols = [Col("model", "left"), *(Col(f"metric {i}") for i in range(7))]  # the last part: model + 1 column
    rows = [["tcn_attention", *(f"{1000 + i}.1234" for i in range(7))]]
    note = "RMSE skill vs naive -0.1% (tcn_attention is worse than naive persistence; DM one-sided p, H1: lower loss)"
    print_table(console, cols, rows, caption=note)
    text = console.export_text()
    _lines_fit(text)
    first_line = next(line for line in text.splitlines() if line.startswith("RMSE skill"))
    assert first_line.rstrip().endswith("naive persistence; DM")  # wrapped at 80 columns, not at the part's
