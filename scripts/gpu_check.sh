#!/usr/bin/env bash
# The checks that need a GPU, for a machine that has one (CUDA): the tests (PYTEST_ARGS, default the
# whole suite), then on the bundled teacher, in bfloat16 (losses under autocast, the frozen roles'
# weights in bf16) and in float32: every step of pose-test (ode, priming, equilibrium) and of
# causal-test (causal_init, asd), and the first step of pose-demo, pose-tiny, dmd2 and apt.
# Prints one line per check; exits non-zero on the first failure.
# Usage: bash scripts/gpu_check.sh [OUT_DIR]   (PY=python3 or a path: another interpreter; about 5 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-/tmp/gpu_check}}
mkdir -p "$OUT"
PY=$(command -v "${PY:-.venv/bin/python}" || true)  # a path, or a name on PATH (PY=python3)
test -n "$PY" || { python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'; PY=.venv/bin/python; }
"$PY" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device: this script is for a GPU machine"
print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
PY
# shellcheck disable=SC2086
"$PY" -m pytest -q -x ${PYTEST_ARGS:-} 2>&1 | tail -3 | tee "$OUT/tests.txt"
check() {  # preset precision max_steps (empty: all)
  local preset=$1 precision=$2 steps=${3:-} start
  start=$(date +%s)
  "$PY" -m onestep.cli distill "$preset" --out "$OUT/$preset-$precision" ${steps:+--max-steps $steps} \
    --set parallel.device=cuda --set train.precision="$precision" --set model.dtype="$precision" \
    --set data.pairs.count=16 --set data.pairs.chunk_batches=1 --set data.pairs.teacher_steps=2 \
    > "$OUT/$preset-$precision.log" 2>&1 || { echo "FAIL $preset $precision (see $OUT/$preset-$precision.log)"; tail -20 "$OUT/$preset-$precision.log"; exit 1; }
  echo "ok   $preset $precision: ${steps:-every} step(s) in $(( $(date +%s) - start )) s"
}
for precision in bfloat16 float32; do
  check pose-test $precision
  check causal-test $precision
  for preset in pose-demo pose-tiny dmd2 apt; do check $preset $precision 1; done
done
