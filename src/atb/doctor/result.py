"""What a check returns: its status, one line of figures, the figures themselves, and the worst offenders."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    PASS = "PASS"
    WARN = "WARN"  # worth a look; not a bug by itself
    FAIL = "FAIL"  # a bug, or data that will mislead every model (exit code 1)
    SKIP = "SKIP"  # nothing to check (e.g. no trained version to audit)


# The families in the order they run and are shown.
FAMILIES = {
    "data": "data quality",
    "learning": "learning works",
    "signal": "known-signal recovery",
    "placebo": "placebo",
    "leakage": "leakage",
    "audit": "version audit",
}


@dataclass
class CheckResult:
    family: str  # a key of FAMILIES
    name: str  # what was checked, e.g. "gaps" or "cnn_lstm (lightweight)"
    status: Status
    summary: str  # one line of figures
    figures: dict[str, Any] = field(default_factory=dict)
    detail: str = ""  # how to read it, what to do
    offenders: list[str] = field(default_factory=list)  # the worst offenders' times (UTC), worst first
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"family": self.family, "name": self.name, "status": self.status.value, "summary": self.summary,
                "figures": self.figures, "detail": self.detail, "offenders": self.offenders,
                "seconds": round(self.seconds, 3)}


def worst(statuses: list[Status]) -> Status:
    for status in (Status.FAIL, Status.WARN, Status.PASS):
        if status in statuses:
            return status
    return Status.SKIP


@dataclass
class DoctorReport:
    settings: dict
    checks: list[CheckResult]
    notes: list[str] = field(default_factory=list)  # how to read the figures (chance rates, attainable skill)
    seconds: float = 0.0

    @property
    def status(self) -> Status:
        return worst([c.status for c in self.checks])

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status is Status.FAIL]

    def counts(self) -> dict[str, int]:
        return {s.value: sum(c.status is s for c in self.checks) for s in Status}

    @property
    def verdict(self) -> str:
        if self.failed:
            names = ", ".join(f"{FAMILIES[c.family]}: {c.name}" for c in self.failed)
            return (f"FAIL: {len(self.failed)} check(s) failed ({names}). Fix these before reading a benchmark: "
                    "a negative (or positive) result may come from the pipeline, not from the market.")
        ran = {c.family for c in self.checks if c.status is not Status.SKIP}
        if not {"signal", "placebo", "leakage"} <= ran:
            return "PASS for the checks that ran; the known-signal, placebo and leakage checks did not all run."
        warn = self.counts()["WARN"]
        return ("PASS: the pipeline recovers a planted signal, finds none where there is none, and its alarms catch "
                "a planted leak. If no model beats naive persistence on your candles, that is a property of the "
                "market and the features, not a bug in atb" + (f" (read the {warn} WARN line(s))." if warn else "."))

    def to_dict(self) -> dict:
        return {"status": self.status.value, "verdict": self.verdict, "counts": self.counts(),
                "seconds": round(self.seconds, 1), "settings": self.settings,
                "checks": [c.to_dict() for c in self.checks], "notes": self.notes}
