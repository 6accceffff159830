"""Adding an architecture is one module plus one registry line: a window MLP (tests/fakes/window_mlp.py),
registered at run time as a plugin would be, goes through everything the built-in ones do — `--model-type` help
and errors, train -> ONNX export and parity -> registry, `atb models compare`, and the benchmark's report and
plot — with no other change to atb."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atb.models import registry
from atb.models.registry import Architecture

pytestmark = pytest.mark.slow

# The one line (as it would stand in atb/models/registry.py).
WINDOW_MLP = Architecture("window_mlp", "fakes.window_mlp", "Window-MLP", "tab:purple")


@pytest.fixture
def window_mlp(data_dir: Path):
    registry.register(WINDOW_MLP)
    yield WINDOW_MLP
    registry.unregister(WINDOW_MLP.name)


def test_help_and_errors_list_it(window_mlp, atb_cli) -> None:
    assert "window_mlp" in atb_cli(["train", "model", "--help"]).out
    assert "window_mlp" in atb_cli(["bench", "phase1", "--help"]).out
    bad = atb_cli(["train", "model", "BTCUSDT", "--model-type", "nope", "--data-source", "synthetic", "--no-db"])
    assert bad.code == 2
    assert bad.err.strip() == f"error: unknown model type 'nope'; choose one of: {', '.join(registry.names())}"
    assert registry.names()[-1] == "window_mlp"


def test_train_compare_and_benchmark_it(window_mlp, atb_cli, tmp_path: Path) -> None:
    models, out = tmp_path / "models", tmp_path / "out"
    common = ["--data-source", "synthetic", "--days", "7", "--epochs", "2", "--models-dir", str(models), "--no-db"]

    trained = atb_cli(["train", "model", "BTCUSDT", "--model-type", "window_mlp", *common, "--json"])
    assert trained.code == 0, trained.err
    meta = json.loads(trained.out)
    assert (meta["training_params"]["architecture"], meta["model_config"]["hidden"]) == ("window_mlp", 8)
    assert meta["onnx"]["max_abs_diff"] <= 1e-4
    version = models / "BTCUSDT-SYNTHETIC" / "price" / meta["version_id"]
    assert (version / "model.onnx").is_file() and (version / "model.safetensors").is_file()

    bench = atb_cli(["bench", "phase1", "--quick", "--models", "window_mlp:lightweight,cnn_lstm:lightweight",
                     "--output-dir", str(out), *common])
    assert bench.code == 0, bench.err
    results = json.loads((out / "phase1_results.json").read_text())
    rows = {r["architecture"]: r for r in results["summary"]["rows"]}
    assert set(rows) == {"cnn_lstm", "window_mlp", "naive"} and rows["cnn_lstm"]["is_baseline"]
    assert rows["window_mlp"]["rmse_improvement_pct"] is not None
    assert "window_mlp (lightweight)" in (out / "phase1_report.md").read_text()
    assert (out / "phase1_comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    compared = atb_cli(["models", "compare", "BTCUSDT-SYNTHETIC", "--models-dir", str(models), "--json"])
    assert compared.code == 0, compared.err
    table = json.loads(compared.out)
    assert table["baseline"] == "cnn_lstm (lightweight)"
    mlp = [r for r in table["rows"] if r["architecture"] == "window_mlp"]
    assert {r["variant"] for r in mlp} == {"default", "lightweight"}
    assert all(r["dm_vs_baseline"] is not None for r in mlp)
