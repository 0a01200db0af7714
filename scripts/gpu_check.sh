#!/usr/bin/env bash
# The checks that need a GPU, for a machine that has one (CUDA): the test suite, then one distill step
# of every preset on the bundled teacher in bfloat16 (the losses under autocast, the frozen roles'
# weights in bf16), then the same step in float32. Prints one line per check; exits non-zero on the
# first failure. Usage: bash scripts/gpu_check.sh [OUT_DIR]   (about 5 minutes on one GPU)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-/tmp/gpu_check}}
mkdir -p "$OUT"
PY=${PY:-.venv/bin/python}
test -x "$PY" || { python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'; PY=.venv/bin/python; }
"$PY" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device: this script is for a GPU machine"
print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
PY
"$PY" -m pytest -q -x 2>&1 | tail -3 | tee "$OUT/tests.txt"
for preset in pose-test pose-demo pose-tiny; do
  for precision in bfloat16 float32; do
    dtype=$precision
    start=$(date +%s)
    "$PY" -m onestep.cli distill "$preset" --out "$OUT/$preset-$precision" --max-steps 1 \
      --set parallel.device=cuda --set train.precision=$precision --set model.dtype=$dtype \
      --set data.pairs.count=16 --set data.pairs.chunk_batches=1 --set data.pairs.teacher_steps=2 \
      > "$OUT/$preset-$precision.log" 2>&1 || { echo "FAIL $preset $precision (see $OUT/$preset-$precision.log)"; tail -20 "$OUT/$preset-$precision.log"; exit 1; }
    echo "ok   $preset $precision: one step in $(( $(date +%s) - start )) s"
  done
done
