"""Version folders appear only complete, `latest` moves atomically, damaged folders explain themselves."""

import json
import os

import pytest

from atb.errors import ModelError
from atb.registry.store import ModelStore, read_metadata, write_json


def stage_version(store: ModelStore, symbol: str, name: str, fail: bool = False):
    with store.staging(symbol) as staged:
        write_json(staged / "metadata.json", {"version_id": name, "training_params": {},
                                              "evaluation_results": {}, "performance": {}})
        (staged / "model.onnx").write_bytes(b"onnx")
        if fail:
            raise RuntimeError("crash mid-export")
        return store.publish(symbol, staged, name)


def test_publish_and_latest(tmp_path):
    store = ModelStore(tmp_path)
    first = stage_version(store, "BTCUSDT", "2026-01-01_000000_tcn_default")
    second = stage_version(store, "BTCUSDT", "2026-01-01_000001_tcn_default")
    link = tmp_path / "BTCUSDT/price/latest"
    assert link.is_symlink() and os.readlink(link) == second.name  # relative
    assert store.resolve("BTCUSDT") == link.parent / second.name
    assert [v.name for v in store.versions("BTCUSDT")] == [first.name, second.name]


def test_failed_run_leaves_no_folder_and_latest_unchanged(tmp_path):
    store = ModelStore(tmp_path)
    good = stage_version(store, "BTCUSDT", "v1")
    with pytest.raises(RuntimeError):
        stage_version(store, "BTCUSDT", "v2", fail=True)
    parent = tmp_path / "BTCUSDT/price"
    assert sorted(p.name for p in parent.iterdir()) == ["latest", "v1"]
    assert os.readlink(parent / "latest") == good.name


def test_same_name_gets_a_suffix_and_metadata_follows(tmp_path):
    store = ModelStore(tmp_path)
    stage_version(store, "ETHUSDT", "v")
    second = stage_version(store, "ETHUSDT", "v")
    assert second.name == "v-2"
    assert json.loads((second / "metadata.json").read_text())["version_id"] == "v-2"


def test_stale_staging_of_a_dead_process_is_removed(tmp_path):
    store = ModelStore(tmp_path)
    parent = store.price_dir("BTCUSDT")
    parent.mkdir(parents=True)
    stale = parent / ".staging-999999999-000000"
    stale.mkdir()
    stage_version(store, "BTCUSDT", "v1")
    assert not stale.exists()


def test_damaged_versions_give_one_line_errors(tmp_path):
    store = ModelStore(tmp_path)
    v = stage_version(store, "BTCUSDT", "v1")
    (v / "metadata.json").write_text('{"training_params": ')
    with pytest.raises(ModelError, match="not valid JSON"):
        read_metadata(v)
    (v / "metadata.json").write_text('{"training_params": {}}')
    with pytest.raises(ModelError, match="evaluation_results"):
        read_metadata(v)
    (v / "model.onnx").unlink()
    with pytest.raises(ModelError, match="model.onnx is missing"):
        store.resolve("BTCUSDT")
    with pytest.raises(ModelError, match="no trained model"):
        store.resolve("SOLUSDT")


def test_the_synthetic_market_has_its_own_folder():
    from atb.registry.store import market_symbol, registry_symbol

    assert registry_symbol("BTCUSDT", synthetic=True) == "BTCUSDT-SYNTHETIC"
    assert registry_symbol("BTCUSDT", synthetic=False) == "BTCUSDT"
    assert market_symbol("BTCUSDT-SYNTHETIC") == market_symbol("BTCUSDT") == "BTCUSDT"


def test_a_registry_folder_is_not_a_market_to_train_on():
    from atb.errors import UsageError
    from atb.training.pipeline import TrainRequest

    with pytest.raises(UsageError, match="BTCUSDT-SYNTHETIC is a registry folder, not a market: train BTCUSDT with "
                                         "--data-source synthetic"):
        TrainRequest(symbol="BTCUSDT-SYNTHETIC", data_source="synthetic").validate()


def test_champion_comes_from_latest_once_and_moves_only_by_promote(tmp_path):
    store = ModelStore(tmp_path)
    first = stage_version(store, "BTCUSDT", "v1")
    assert store.champion_name("BTCUSDT") is None
    assert store.ensure_champion("BTCUSDT") == first.name
    link = tmp_path / "BTCUSDT/price/champion"
    assert link.is_symlink() and os.readlink(link) == "v1"  # relative, beside latest
    second = stage_version(store, "BTCUSDT", "v2")
    assert store.latest_name("BTCUSDT") == second.name
    assert store.ensure_champion("BTCUSDT") == "v1"  # a new latest never moves what is served
    assert store.promote("BTCUSDT", "v2") == "v1"
    assert os.readlink(link) == "v2"
    assert store.promote("BTCUSDT", "v2") == "v2"
    assert [v.name for v in store.versions("BTCUSDT")] == ["v1", "v2"]  # the pointers are no versions
    assert not [p for p in link.parent.iterdir() if p.name.startswith(".champion")]  # no temporary link left


def test_promote_takes_latest_and_refuses_what_is_no_complete_version(tmp_path):
    store = ModelStore(tmp_path)
    assert store.ensure_champion("BTCUSDT") is None  # no model: no pointer
    stage_version(store, "BTCUSDT", "v1")
    stage_version(store, "BTCUSDT", "v2")
    assert store.promote("BTCUSDT", "latest") is None and store.champion_name("BTCUSDT") == "v2"
    for bad, message in [("v9", "not found"), ("../v1", "not a version folder"), ("", "not a version folder")]:
        with pytest.raises(ModelError, match=message):
            store.promote("BTCUSDT", bad)
    (tmp_path / "BTCUSDT/price/v3").mkdir()
    with pytest.raises(ModelError, match="incomplete"):
        store.promote("BTCUSDT", "v3")
    assert store.champion_name("BTCUSDT") == "v2"
