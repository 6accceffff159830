"""The models a server holds, one slot per symbol and role, and their hot reload.

A champion slot follows the symbol's `champion` pointer (created from `latest` the first time), or a pinned
version (`--version`); a challenger slot holds the `--shadow`/`--split` version. A watcher thread looks at the
pointer and the version folders about once a second (a readlink and three stats per slot). When what a slot
names has changed on disk, the new version is loaded beside the old one and swapped in by one assignment:
a request reads its slot's model once, so it runs on the old or the new model, never on half of each, and
none fails during the swap. A version that does not load leaves the old one serving (one warning line).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from atb.errors import AtbError
from atb.inference.forecaster import OnnxForecaster
from atb.registry.store import CHAMPION, ModelStore
from atb.serving.config import Challenger
from atb.serving.metrics import Metrics

log = logging.getLogger(__name__)

ROLES = ("champion", "challenger")
_WATCHED_FILES = ("metadata.json", "model.onnx", "scaler.json")

Signature = tuple[str, tuple[int, ...]]  # the version's name and its files' (inode, mtime, size)


@dataclass
class Slot:
    symbol: str  # the registry folder: BTCUSDT, or BTCUSDT-SYNTHETIC
    role: str
    pinned: str | None  # a version name; None: the champion pointer
    model: OnnxForecaster | None = None
    problem: str | None = None  # why no model is loaded (the 503's reason)
    signature: Signature | None = field(default=None, repr=False)
    failed: Signature | None = field(default=None, repr=False)  # a signature that failed to load: not retried


@dataclass
class ServedSymbol:
    symbol: str
    champion: Slot
    challenger: Slot | None
    challenger_mode: str | None = None  # "shadow" | "split"
    challenger_share: float = 0.0

    def slots(self) -> list[Slot]:
        return [self.champion] + ([self.challenger] if self.challenger else [])

    def usable_challenger(self) -> OnnxForecaster | None:
        """The challenger, when it is loaded and comparable with the champion (same timeframe and horizon)."""
        champion, challenger = self.champion.model, self.challenger.model if self.challenger else None
        if champion is None or challenger is None:
            return None
        if (champion.timeframe, champion.horizon) != (challenger.timeframe, challenger.horizon):
            return None
        return challenger


class ModelSet:
    def __init__(self, store: ModelStore, symbols: list[str], *, pin: str | None = None,
                 challenger: Challenger | None = None, threads: int = 1, metrics: Metrics | None = None) -> None:
        self.store = store
        self.threads = threads
        self.metrics = metrics
        self.symbols: dict[str, ServedSymbol] = {}
        for symbol in symbols:
            held = challenger is not None and (store.price_dir(symbol) / challenger.version).is_dir()
            self.symbols[symbol] = ServedSymbol(
                symbol, Slot(symbol, "champion", pin),
                Slot(symbol, "challenger", challenger.version) if held else None,
                challenger.mode if held else None, challenger.share if held else 0.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one refresh at a time (the watcher, a test, a follow tick)

    def get(self, symbol: str) -> ServedSymbol | None:
        return self.symbols.get(symbol)

    # --- loading and reloading --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Load whatever changed on disk since the last look (cheap when nothing did)."""
        with self._lock:
            for served in self.symbols.values():
                for slot in served.slots():
                    self._refresh(slot)
                self._check_comparable(served)

    def _refresh(self, slot: Slot) -> None:
        name = slot.pinned or self._champion_name(slot.symbol)
        if name is None:
            slot.problem = self.store.no_model_message(slot.symbol)
            return
        signature = _signature(self.store.price_dir(slot.symbol) / name)
        if signature is None:
            if slot.model is None:
                slot.problem = f"model version {name} of {slot.symbol} is missing or incomplete"
            return
        if signature == slot.signature or signature == slot.failed:
            return
        try:
            model = OnnxForecaster.load(self.store.resolve(slot.symbol, name), self.threads)
        except AtbError as exc:
            slot.failed = signature
            if slot.model is None:
                slot.problem = str(exc)
            kept = f"; still serving {slot.model.version}" if slot.model else ""
            log.warning(f"{slot.symbol} {slot.role}: cannot load {name}: {exc}{kept}")
            self._count(slot, "failed")
            return
        previous, slot.model, slot.signature, slot.problem, slot.failed = slot.model, model, signature, None, None
        self._count(slot, "loaded")
        if self.metrics is not None:
            if previous is not None:
                self.metrics.loaded.labels(slot.symbol, slot.role, previous.version).set(0)
            self.metrics.loaded.labels(slot.symbol, slot.role, model.version).set(1)
        if previous is not None:
            log.info(f"{slot.symbol} {slot.role}: now serving {model.version} (was {previous.version})")

    def _champion_name(self, symbol: str) -> str | None:
        try:
            return self.store.ensure_champion(symbol)
        except OSError as exc:  # a read-only registry without a champion: serve `latest` and say why
            latest = self.store.latest_name(symbol)
            log.warning(f"{symbol}: cannot create the {CHAMPION} pointer ({exc.strerror}); serving latest ({latest})")
            return latest

    def _check_comparable(self, served: ServedSymbol) -> None:
        challenger = served.challenger
        if challenger is None or challenger.model is None or served.champion.model is None:
            return
        champ, chall = served.champion.model, challenger.model
        if (champ.timeframe, champ.horizon) != (chall.timeframe, chall.horizon):
            problem = (f"challenger {chall.version} forecasts {chall.horizon} {chall.timeframe} bar(s) ahead, the "
                       f"champion {champ.version} {champ.horizon} {champ.timeframe}: not comparable, not used")
            if challenger.problem != problem:
                log.warning(f"{served.symbol}: {problem}")
            challenger.problem = problem
        elif challenger.problem and challenger.problem.endswith("not comparable, not used"):
            challenger.problem = None

    def _count(self, slot: Slot, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.reloads.labels(slot.symbol, slot.role, outcome).inc()

    # --- the watcher thread -----------------------------------------------------------------------------

    def start(self, interval_s: float) -> None:
        if self._thread is None and interval_s > 0:
            self._thread = threading.Thread(target=self._watch, args=(interval_s,), name="atb-model-watch",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _watch(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.refresh()
            except Exception as exc:  # the watcher must outlive anything the file system does
                log.warning(f"model watcher: {type(exc).__name__}: {exc}")


def _signature(path: Path) -> Signature | None:
    """The version's folder name and its files' identity; None when a file is missing."""
    parts: list[int] = []
    try:
        for name in _WATCHED_FILES:
            try:
                st = os.stat(path / name)
            except FileNotFoundError:
                if name == "scaler.json":  # named in metadata; a missing one fails the load, not the look
                    continue
                return None
            parts += [st.st_ino, st.st_mtime_ns, st.st_size]
    except OSError:
        return None
    return path.name, tuple(parts)
