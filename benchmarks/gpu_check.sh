#!/usr/bin/env bash
# The GPU check, prepared for a CUDA machine that has torch and onnxruntime but not atb's virtual environment.
#
#   bash benchmarks/gpu_check.sh            (from anywhere; it works in the repository root)
#
# 1. installs atb (`pip install --no-deps -e .`, else PYTHONPATH=src) and, from wheels in $WHEELS (default
#    .whl) when that folder exists, the pure-Python packages atb needs that the machine lacks (--no-deps,
#    --no-index, into a private --target folder put on PYTHONPATH); with no wheels the missing ones are listed;
# 2. atb dev gpu-check;
# 3. python benchmarks/train_throughput.py --device cuda --sequence-length 120  (batches 64 and 512);
# 4. atb train model BTCUSDT --data-source synthetic --device cuda --epochs 2 --days 30 --no-db;
# 5. if time is left: benchmarks/fit_time.py --device cuda, the year workload, then the Phase-1 one.
#
# Everything goes under $OUT (default benchmarks/results/gpu), at most 5 files, none deeper than one folder:
# gpu_check.log, train_throughput.json, train_cuda.json (the model's metadata), year/fit_time.json and
# phase1/fit_time.json. It finishes within 8 minutes: every step has a time limit, capped by what is left of
# BUDGET_S (default 420 s), and the optional steps are skipped when too little is left.
# Exit status: 0 when steps 2-4 passed, 1 otherwise. Environment: PYTHON (default python3), OUT, WHEELS,
# BUDGET_S, DATA_FILE (a candle file for step 5; default: the synthetic market unless ../shared/data exists),
# SKIP_INSTALL=1 (install nothing: for a machine already set up).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PY="${PYTHON:-python3}"
OUT="${OUT:-benchmarks/results/gpu}"
WHEELS="${WHEELS:-.whl}"
BUDGET_S="${BUDGET_S:-420}"
SITE="${TMPDIR:-/tmp}/atb-gpu-site"  # wheels go here, not into the machine's own site-packages
WORK="$(mktemp -d "${TMPDIR:-/tmp}/atb-gpu-check.XXXXXX")"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/gpu_check.log"
: > "$LOG"
export PYTHONUNBUFFERED=1 ATB_DB=off NO_COLOR=1 COLUMNS=160
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"  # atb importable even if the editable install fails
START=$SECONDS
FAILED=()

# Import name (":" pip name) of every package the three commands import, the image's or ours alike.
# typer._click: atb needs typer >= 0.22, which vendors click; an older typer counts as missing.
REQUIRED=(
  typer._click:typer pydantic:pydantic pydantic_core:pydantic_core annotated_types:annotated-types
  typing_inspection:typing-inspection annotated_doc:annotated-doc shellingham:shellingham rich:rich
  pygments:Pygments markdown_it:markdown-it-py mdurl:mdurl typing_extensions:typing_extensions
  numpy:numpy pandas:pandas dateutil:python-dateutil pyarrow:pyarrow scipy:scipy statsmodels:statsmodels
  talib:TA-Lib onnx:onnx onnxscript:onnxscript onnx_ir:onnx-ir ml_dtypes:ml_dtypes google.protobuf:protobuf
  safetensors:safetensors filelock:filelock sqlalchemy:SQLAlchemy alembic:alembic mako:Mako markupsafe:MarkupSafe
  packaging:packaging
)

say() { echo "$*" | tee -a "$LOG"; }

# step NAME LIMIT_S OPTIONAL(0|1) CMD...: run CMD under a time limit capped by the budget left; log it all.
step() {
  local name=$1 limit=$2 optional=$3 left
  shift 3
  left=$(( BUDGET_S - (SECONDS - START) ))
  if (( left < (optional ? 60 : 15) )); then
    say "== $name: SKIPPED, ${left}s of the ${BUDGET_S}s budget left"
    (( optional )) || FAILED+=("$name")
    return 1
  fi
  (( limit > left )) && limit=$left
  say "== $name (limit ${limit}s): $*"
  local t0=$SECONDS rc
  timeout -k 5 "$limit" "$@" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  say "== $name: exit $rc after $(( SECONDS - t0 ))s$( (( rc == 124 )) && echo ' (TIMED OUT)')"
  (( rc == 0 )) || (( optional )) || FAILED+=("$name")
  return "$rc"
}

missing_packages() {
  "$PY" - "${REQUIRED[@]}" <<'EOF'
import importlib, sys
for item in sys.argv[1:]:
    module, dist = item.split(":")
    try:
        importlib.import_module(module)
    except Exception:  # absent, or present but too old or broken
        print(dist)
EOF
}

# The wheel in $WHEELS for a distribution name (wheel names normalise case, '-' and '.' to '_').
wheel_for() {
  local norm
  norm=$(echo "$1" | tr 'A-Z.-' 'a-z__')
  for f in "$WHEELS"/*.whl; do
    [[ -e $f ]] || continue
    [[ $(basename "$f" | cut -d- -f1 | tr 'A-Z.-' 'a-z__') == "$norm" ]] && { echo "$f"; return 0; }
  done
  return 1
}

install_packages() {
  if [[ -n ${SKIP_INSTALL:-} ]]; then
    say "SKIP_INSTALL set: nothing installed"
  elif "$PY" -m pip install -q --no-deps --no-build-isolation -e . >>"$LOG" 2>&1; then
    say "atb installed (editable)"
  else
    say "pip install -e . failed: using PYTHONPATH=src"
  fi
  local missing wheels=() still=()
  missing=$(missing_packages)
  if [[ -z $missing ]]; then say "all required packages import"; return 0; fi
  say "missing or too old: $(echo $missing)"
  if [[ -n ${SKIP_INSTALL:-} || ! -d $WHEELS ]]; then
    say "installing nothing (SKIP_INSTALL set, or no wheel folder $WHEELS): later steps may fail"
    return 0
  fi
  for dist in $missing; do
    if w=$(wheel_for "$dist"); then wheels+=("$w"); else still+=("$dist"); fi
  done
  if (( ${#wheels[@]} )); then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
      "${wheels[@]}" 2>&1 | tee -a "$LOG"
    export PYTHONPATH="$SITE:$PYTHONPATH"
    say "installed from $WHEELS into $SITE: ${wheels[*]##*/}"
  fi
  (( ${#still[@]} )) && say "no wheel in $WHEELS for: ${still[*]}"
  missing=$(missing_packages)
  [[ -z $missing ]] && say "all required packages import" || say "STILL MISSING: $(echo $missing)"
}

train_cuda() {  # step 4, with the new version's metadata kept as train_cuda.json
  "$PY" -m atb.cli.main train model BTCUSDT --data-source synthetic --device cuda --epochs 2 --days 30 --no-db \
    --models-dir "$WORK/models" || return
  cp "$(find "$WORK/models" -name metadata.json | head -n 1)" "$OUT/train_cuda.json"
}

say "atb GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -n), budget ${BUDGET_S}s, output in $OUT"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | tee -a "$LOG"
else
  say "nvidia-smi: not found"
fi
"$PY" -c "import sys, torch, onnxruntime as ort; print('python', sys.version.split()[0], '| torch', torch.__version__,
'| CUDA available:', torch.cuda.is_available(), '| onnxruntime', ort.__version__)" 2>&1 | tee -a "$LOG"

say "== install (atb, and missing packages from $WHEELS)"
install_packages
step gpu-check 60 0 "$PY" -m atb.cli.main dev gpu-check
step train-throughput 200 0 "$PY" benchmarks/train_throughput.py --device cuda --sequence-length 120 \
  --results-dir "$OUT"
export -f train_cuda
export PY WORK OUT
step train-cuda 150 0 bash -c train_cuda

data=()
[[ -n ${DATA_FILE:-} ]] && data=(--data-file "$DATA_FILE")
step fit-time-year 150 1 "$PY" benchmarks/fit_time.py --workload year --device cuda "${data[@]}" \
  --results-dir "$OUT/year"
step fit-time-phase1 150 1 "$PY" benchmarks/fit_time.py --workload phase1 --device cuda "${data[@]}" \
  --results-dir "$OUT/phase1"

rm -rf "$WORK"
if (( ${#FAILED[@]} )); then
  say "GPU check FAILED: ${FAILED[*]} (total $(( SECONDS - START ))s; log: $LOG)"
  exit 1
fi
say "GPU check passed (total $(( SECONDS - START ))s; log: $LOG)"
