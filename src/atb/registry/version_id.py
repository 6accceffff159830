"""A model version's name (its folder and metadata.json's `version_id`), built and parsed here only.

`2026-11-26_184312_tcn_default`: the UTC creation time first, so that names sort by age and the guide's
`price/2025-*` globs work; then architecture and variant. When two runs want one name in the same second,
the registry appends `-2`, `-3`, ... to the later one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

_TIME = "%Y-%m-%d_%H%M%S"
# The variant is the last underscore-separated part: architectures have underscores (cnn_lstm), variants not.
_PATTERN = re.compile(r"^(\d{4}-\d{2}-\d{2}_\d{6})_(.+)_([^_]+?)(?:-(\d+))?$")


@dataclass(frozen=True)
class VersionId:
    created: datetime  # UTC, to the second
    architecture: str
    variant: str
    copy: int = 1  # > 1: the name was taken, so the registry appended "-<copy>"

    def __str__(self) -> str:
        return numbered(f"{self.created:{_TIME}}_{self.architecture}_{self.variant}", self.copy)

    @classmethod
    def parse(cls, name: str) -> VersionId | None:
        """None for a name that is not a version id (e.g. a folder made by hand)."""
        match = _PATTERN.match(name)
        if match is None:
            return None
        created, architecture, variant, copy = match.groups()
        try:
            moment = datetime.strptime(created, _TIME).replace(tzinfo=timezone.utc)
        except ValueError:
            return None
        return cls(moment, architecture, variant, int(copy) if copy else 1)


def version_name(created: datetime, architecture: str, variant: str) -> str:
    """The name of a new version created at `created` (UTC)."""
    return str(VersionId(created, architecture, variant))


def numbered(name: str, copy: int) -> str:
    """The `copy`-th version that wants `name`: the name itself, then `name-2`, `name-3`, ..."""
    return name if copy == 1 else f"{name}-{copy}"
