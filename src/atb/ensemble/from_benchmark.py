"""One ensemble per seed and fold of a phase-1 benchmark: the runs of one seed and fold are trained on the same
candles with the same split, so they share their validation and test target times and can be combined.

Used by `atb train ensemble SYMBOL --from-benchmark phase1_results.json` (reading the file's runs) and by the
benchmark's own `--ensemble` (its run records, as dicts of the same keys).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from atb.ensemble import ARCHITECTURE, MIN_MEMBERS
from atb.errors import DataError, ModelError, UsageError
from atb.registry.store import ModelStore, is_synthetic_folder, market_symbol, registry_symbol


@dataclass(frozen=True)
class Group:
    seed: int
    fold: int
    members: list[Path]  # the completed runs' version folders, in the benchmark's model order
    labels: list[str]  # their "architecture (variant)"
    missing: list[str]  # the group's runs that did not complete (left out)

    @property
    def title(self) -> str:
        return f"seed {self.seed} fold {self.fold}"

    @property
    def enough(self) -> bool:
        return len(self.members) >= MIN_MEMBERS


def group_runs(runs: list[dict], locate=None) -> list[Group]:
    """The runs (phase1_results.json's ``runs``: architecture, variant, seed, fold, status, version_id,
    version_dir), ensembles left out, by seed and fold in the plan's order. ``locate(run) -> Path`` finds a
    completed run's version folder (default: its ``version_dir``)."""
    locate = locate or (lambda run: Path(run["version_dir"]))
    groups: dict[tuple[int, int], list[dict]] = {}
    for run in runs:
        if run.get("architecture") == ARCHITECTURE:
            continue
        groups.setdefault((int(run["seed"]), int(run["fold"])), []).append(run)
    out = []
    for (seed, fold), group in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        done = [r for r in group if r.get("status") == "completed" and r.get("version_id")]
        out.append(Group(seed, fold, [locate(r) for r in done], [_label(r) for r in done],
                         [_label(r) for r in group if r not in done]))
    return out


def read_results(path: Path) -> dict:
    """phase1_results.json; DataError (one line) when it is not one."""
    try:
        results = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"--from-benchmark {path}: no such file") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"--from-benchmark {path}: not readable JSON ({exc})") from None
    if not isinstance(results, dict) or results.get("benchmark") != "phase1" or not isinstance(results.get("runs"),
                                                                                            list):
        raise DataError(f"--from-benchmark {path}: not a phase-1 results file (phase1_results.json)")
    return results


def benchmark_groups(path: Path, symbol: str, models_dir: Path | None = None) -> tuple[dict, list[Group]]:
    """The results file's settings and its groups. A run's version folder is its recorded ``version_dir`` when that
    still exists, else ``version_id`` under ``models_dir`` (default: the benchmark's models_dir)."""
    results = read_results(path)
    settings = results.get("settings") or {}
    market = market_symbol(symbol.upper())
    if settings.get("symbol") and settings["symbol"] != market:
        raise UsageError(f"--from-benchmark {path} benchmarked {settings['symbol']}, not {market}")
    synthetic = settings.get("data_source") == "synthetic" or is_synthetic_folder(symbol)
    root = models_dir or settings.get("models_dir")
    store = ModelStore(Path(root)) if root else None
    folder = registry_symbol(market, synthetic)

    def locate(run: dict) -> Path:
        recorded = Path(run["version_dir"]) if run.get("version_dir") else None
        if recorded is not None and recorded.is_dir():
            return recorded
        if store is not None and (store.price_dir(folder) / run["version_id"]).is_dir():
            return store.price_dir(folder) / run["version_id"]
        raise ModelError(f"{run['version_id']} (run {run.get('index')}) is not in {recorded or 'the registry'}"
                         + ("" if store is None else f" nor in {store.price_dir(folder)}")
                         + "; give the registry with --models-dir")

    return settings, group_runs(results["runs"], locate)


def _label(run: dict) -> str:
    return f"{run.get('architecture')} ({run.get('variant')})"
