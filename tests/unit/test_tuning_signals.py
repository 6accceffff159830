"""A terminal's Ctrl-C reaches a tune worker twice (from the terminal and from its driver): it stops at the first and
the second cannot turn its exit into a traceback."""

from __future__ import annotations

import subprocess
import sys

WORKER = """
import os, signal, time
from atb.tuning.local import _stop_once
signal.signal(signal.SIGINT, _stop_once)
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
except KeyboardInterrupt:
    os.kill(os.getpid(), signal.SIGINT)  # the driver's copy, while the worker is already stopping
    time.sleep(0.2)
    print("stopped once")
"""


def test_a_tune_worker_stops_at_the_first_ctrl_c_and_ignores_the_next() -> None:
    done = subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stopped once" and "Traceback" not in done.stderr
