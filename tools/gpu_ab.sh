#!/bin/bash
# Before/after on one GPU machine: the LeNet-5 b256 bench row of an older commit
# and of the working tree, alternated (the host's speed drifts between calls and
# machines, so only alternated runs on one machine compare).  The older tree
# reuses this tree's compiled extension: use it only across Python-only changes.
#   usage: tools/gpu_ab.sh OLD_COMMIT [ROUNDS] [ROW]      (writes $OUT/ab.log)
set -u
OLD=$1; ROUNDS=${2:-3}; ROW=${3:-lenet5}
OUT=${OUT:-/tmp/gpu_ab}; mkdir -p "$OUT"
PY=${PY:-python3}; HERE=$PWD
$PY setup.py build_ext --inplace -j "$(nproc)" >/dev/null 2>&1 || { echo "build failed"; exit 1; }
rm -rf /tmp/ab_old && mkdir /tmp/ab_old && git archive "$OLD" | tar -x -C /tmp/ab_old &&
  cp tinygrad_kr/_C/*.so /tmp/ab_old/tinygrad_kr/_C/ || exit 1
row() { (cd "$1" && timeout 60 $PY -m bench --device cuda --only "$ROW" --out "/tmp/ab_out_$2" 2>&1 |
         grep '^cuda/')
}
for _ in $(seq "$ROUNDS"); do
  echo "old $(row /tmp/ab_old old)"
  echo "new $(row "$HERE" new)"
done | tee "$OUT/ab.log"
