"""Fixtures shared by every test: an isolated data directory and the team's real candle files."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from atb.cli.console import show_library_warnings

# Tests start several training processes at once; one torch thread each keeps them from waiting on each other
# (two spinning threads per process on 2 cores made fits 50x slower). Results do not depend on it.
os.environ.setdefault("ATB_THREADS", "1")

# The library logs its warnings and the CLI renders them as `warning: ...` lines on stderr; tests that call the
# library directly read them from stderr the same way.
show_library_warnings()

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"  # absent in a fresh clone: tests using it skip


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ATB_DATA_DIR for the test (the candle cache lives under it)."""
    path = tmp_path / "data"
    monkeypatch.setenv("ATB_DATA_DIR", str(path))
    return path


@pytest.fixture
def shared_data() -> Path:
    """The folder of real exchange candles (../shared/data); skips the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (real candle files are not part of the repository)")
    return SHARED_DATA


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def atb_cli(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], CliResult]:
    """Run `atb ARGS...` in this process through the real entry point (one-line errors, exit codes)."""
    from atb.cli import main

    def run(argv: list[str]) -> CliResult:
        capsys.readouterr()  # drop whatever came before
        with pytest.raises(SystemExit) as info:
            main.run(argv)
        captured = capsys.readouterr()
        code = info.value.code
        return CliResult(code if isinstance(code, int) else (0 if code is None else 1), captured.out,
                         captured.err)

    return run
