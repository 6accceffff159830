"""The members of an ensemble: registered versions, read through the comparison's Entry (metadata.json and
predictions.parquet, whose split rule lives in registry.predictions), and the checks that they can be combined.

Members can be combined when they forecast the same thing from the same data: one symbol, timeframe and horizon,
the same kind of market (evaluation.comparison.check_comparable), the same data range (first training target time
and last test target time), the same validation and test target times, and the same candles at those times (their
last and actual closes agree). Each check fails with one line that names the members and what differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from atb.ensemble import MIN_MEMBERS, is_ensemble
from atb.errors import ModelError, UsageError
from atb.evaluation.comparison import Entry, check_comparable
from atb.registry.metadata import VersionMetadata

SPLITS = ("validation", "test")
CLOSES = ("last_close", "actual_close")


@dataclass(frozen=True)
class Member:
    path: Path
    entry: Entry  # .predictions: the test rows; .validation: the validation rows

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def metadata(self) -> VersionMetadata:
        return self.entry.metadata

    @property
    def sequence_length(self) -> int:
        return int(self.metadata.training_params.sequence_length)

    def rows(self, split: str) -> pd.DataFrame:
        return self.entry.validation if split == "validation" else self.entry.predictions


def load_members(paths: list[Path]) -> list[Member]:
    """Read every member; ModelError naming the one that cannot be a member (unreadable, an ensemble itself, or
    without validation predictions: the combiner is fitted on those and nothing else)."""
    members = []
    for path in paths:
        entry = Entry.from_version(Path(path))
        name = entry.name
        if is_ensemble(entry.architecture):
            raise UsageError(f"{name} is an ensemble; the members of an ensemble must be single models")
        if entry.validation is None or entry.validation.empty:
            raise ModelError(f"{name} has no validation predictions (trained before they were stored): the combiner "
                             "is fitted on them alone; retrain it, or leave it out of the ensemble")
        members.append(Member(Path(path), entry))
    check_members(members)
    return members


def check_members(members: list[Member]) -> None:
    """UsageError (one line) unless the members can be combined (module docstring)."""
    names = [m.name for m in members]
    if len(set(names)) < len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise UsageError(f"{twice} is named twice; each member counts once")
    if len(members) < MIN_MEMBERS:
        raise UsageError(f"an ensemble needs at least {MIN_MEMBERS} members (got {len(members)})")
    try:
        check_comparable([m.entry for m in members])
    except ValueError as exc:
        raise UsageError(f"members cannot be combined: {exc}") from None
    _same("data ranges", members, _data_range)
    for split in SPLITS:
        _same_times(members, split)
    for split in SPLITS:
        _same_closes(members, split)


def _data_range(m: Member) -> str:
    tp = m.metadata.training_params
    return f"targets {_short(tp.start)} .. {_short(tp.end)}"


def _times(frame: pd.DataFrame) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(frame["target_time"], utc=True))


def _span(times: pd.DatetimeIndex) -> str:
    return f"{len(times)} ({times[0]:%Y-%m-%d %H:%M} .. {times[-1]:%Y-%m-%d %H:%M})" if len(times) else "none"


def _same_times(members: list[Member], split: str) -> None:
    first = _times(members[0].rows(split))
    for m in members[1:]:
        times = _times(m.rows(split))
        if times.equals(first):
            continue
        what = f"members cannot be combined: they differ in {split} target times: "
        if _span(times) != _span(first):
            raise UsageError(f"{what}{members[0].name} has {_span(first)}, {m.name} has {_span(times)}")
        for one, other, extra in ((members[0], m, first.difference(times)), (m, members[0], times.difference(first))):
            if len(extra):
                raise UsageError(f"{what}{one.name} scores {extra[0]:%Y-%m-%d %H:%M}, {other.name} does not")
        raise UsageError(f"{what}{members[0].name} and {m.name} list them in another order")


def _same(what: str, members: list[Member], describe) -> None:
    first = describe(members[0])
    for m in members[1:]:
        value = describe(m)
        if value != first:
            raise UsageError(f"members cannot be combined: they differ in {what}: {members[0].name} has {first}, "
                             f"{m.name} has {value}")


def _same_closes(members: list[Member], split: str) -> None:
    """The same candles: every member's last and actual close at every target time (the times already agree)."""
    ref = members[0].rows(split)
    for m in members[1:]:
        rows = m.rows(split)
        for column in CLOSES:
            a, b = ref[column].to_numpy(np.float64), rows[column].to_numpy(np.float64)
            bad = np.flatnonzero(~np.isclose(a, b, rtol=1e-12, atol=0))
            if len(bad):
                i = bad[0]
                raise UsageError(f"members cannot be combined: they were trained on different candles: at "
                                 f"{pd.Timestamp(ref['target_time'].iloc[i]):%Y-%m-%d %H:%M} ({split}) "
                                 f"{members[0].name} has {column} {a[i]:g}, {m.name} has {b[i]:g}")


def aligned(members: list[Member], split: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The split's target times and closes (target_time, last_close, actual_close), and the members' predicted
    log returns ``ln(predicted_close / last_close)`` as columns (n, k), in the members' order."""
    base = members[0].rows(split)[["target_time", *CLOSES]].reset_index(drop=True)
    last = base["last_close"].to_numpy(np.float64)
    returns = np.column_stack([np.log(m.rows(split)["predicted_close"].to_numpy(np.float64) / last) for m in members])
    return base, returns


def realised(base: pd.DataFrame) -> np.ndarray:
    """The realised log returns of the rows (what the combiner is fitted to)."""
    return np.log(base["actual_close"].to_numpy(np.float64) / base["last_close"].to_numpy(np.float64))


def _short(iso: str | None) -> str:
    return "?" if not iso else iso[:16].replace("T", " ")
