"""torch's CPU threads: one unless asked (the setting that never backfires, benchmarks/threads.py), ATB_THREADS or
--threads for more; OpenMP's wait policy is left to OpenMP (the passive wait made two threads slower than one)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from atb.errors import UsageError
from atb.training.device import configure_threads


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_one_thread_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATB_THREADS", raising=False)
    assert configure_threads(None) == 1 and torch.get_num_threads() == 1
    monkeypatch.setenv("ATB_THREADS", "2")
    assert configure_threads(None) == 2
    assert configure_threads(3) == 3  # --threads wins over ATB_THREADS


def test_bad_thread_counts_are_usage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_THREADS", "many")
    with pytest.raises(UsageError, match="ATB_THREADS must be a whole number"):
        configure_threads(None)
    with pytest.raises(UsageError, match="at least 1"):
        configure_threads(-1)


def test_importing_atb_leaves_the_openmp_wait_policy_alone() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", "import os, atb; print(os.environ.get('OMP_WAIT_POLICY'))"],
                         capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert out == "None"
