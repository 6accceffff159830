#!/usr/bin/env bash
# One-command set-up: a virtual environment in .venv with the pinned dependencies, the test tools and atb.
# torch is pinned to the 2.13.0 CPU wheel; on a CUDA machine install your CUDA build of torch first.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements-dev.txt
.venv/bin/python -m pip install --quiet --no-deps -e .
.venv/bin/atb --version
echo "Set up. Activate with: source .venv/bin/activate"
