#!/usr/bin/env python
"""Phase 1 benchmark (the guide's `python scripts/phase1_benchmark.py --quick|--full`).

A thin wrapper over `atb bench phase1`; see `--help` for the options.
"""

from atb.cli.bench import run_script

if __name__ == "__main__":
    run_script()
