"""Who ran it: host, atb version and git commit (when atb runs from a git checkout of itself)."""

from __future__ import annotations

import functools
import socket
import subprocess
from pathlib import Path

import atb


def host() -> str:
    return socket.gethostname()


def atb_version() -> str:
    return atb.__version__


@functools.cache
def git_commit() -> str | None:
    """HEAD of the checkout atb is imported from, `-dirty` when tracked files changed; None otherwise."""
    package = Path(atb.__file__).resolve().parent
    try:
        top = _git(package, "rev-parse", "--show-toplevel")
        # A wheel installed into a venv that sits inside some other repository must not report that one.
        if not top or (Path(top) / "src" / "atb" / "__init__.py").resolve() != package / "__init__.py":
            return None
        commit = _git(package, "rev-parse", "HEAD")
        if not commit:
            return None
        dirty = _git(package, "status", "--porcelain", "--untracked-files=no")
        return f"{commit}-dirty" if dirty else commit
    except (OSError, subprocess.SubprocessError):
        return None


def _git(cwd: Path, *args: str) -> str | None:
    done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, timeout=3,
                          check=False)
    return done.stdout.strip() if done.returncode == 0 else None
