"""atb: train, evaluate and benchmark deep-learning price-forecasting models for crypto markets."""

import os

__version__ = "0.1.0"

# torch's CPU threads wait for work in OpenMP; the default, spinning wait makes them fight any other busy
# process for the cores (a 30-day fit took 21 s with 2 threads beside one busy process, 1.3 s with one).
# The passive wait sleeps instead and costs nothing measurable on a quiet machine (benchmarks/threads.py).
# It must be set before torch loads OpenMP, hence here; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
