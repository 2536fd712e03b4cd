#!/bin/bash
# The GPU verification of issue 7 in one device call: build the kernels,
# run the whole test suite (GPU cases included), the GPU benchmark rows and
# LeNet-5 on the GPU.  Each step has its own time limit so that one hang
# cannot eat the others; logs go to $OUT (the device tool brings back at
# most 8 files).
#   usage: tools/gpu_check.sh [--full-lenet5|--no-lenet5] [--bench-only]   (PROFILE=0: no profile)
# PYTEST_ARGS adds pytest options (e.g. "-n 8" where pytest-xdist is installed:
# the suite in about a third of the time; test_coverage's whole-session check
# then fails by construction and is deselected), TEST_LIMIT its seconds.
# It writes 8 files at most (the tool's limit): info, build, tests, bench,
# latest.{json,md}, lenet5 and profile.
set -u
OUT=${OUT:-/tmp/gpu_check}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
PY=${PY:-python3}
LENET=(--quick --no-plots); BENCH_ONLY=0; RUN_LENET=1
for a in "$@"; do
  case $a in
    --full-lenet5) LENET=(--no-plots --course-epochs 0) ;;
    --bench-only) BENCH_ONLY=1 ;;
    --no-lenet5) RUN_LENET=0 ;;
  esac
done

step() {  # step NAME SECONDS CMD...: run, log to $OUT/NAME.log, print its tail
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "=== $name: rc=$rc in $((SECONDS - t0)) s"
  tail -n "${TAIL:-15}" "$OUT/$name.log"
}

{ nvidia-smi -L; nproc; $PY -c "import sys, numpy, scipy, cupy, torch, Cython; print(sys.version.split()[0], 'numpy', numpy.__version__, 'scipy', scipy.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__, 'cython', Cython.__version__)"; } >"$OUT/info.log" 2>&1
cat "$OUT/info.log"
step build 150 $PY setup.py build_ext --inplace -j "$(nproc)"
$PY -c "import tinygrad_kr as t; t.show_config(); print('cuda available:', t.cuda.is_available())" >>"$OUT/info.log" 2>&1
tail -n 12 "$OUT/info.log"
if [ $BENCH_ONLY = 0 ]; then
  XDIST=()
  [[ "${PYTEST_ARGS:-}" == *"-n "* ]] && \
      XDIST=(--deselect tests/test_coverage.py::test_every_function_has_a_float64_gradcheck)
  TAIL=40 step tests "${TEST_LIMIT:-240}" env OMP_NUM_THREADS=${TEST_THREADS:-4} $PY -m pytest -q \
      -p no:cacheprovider -rfE --tb=short ${PYTEST_ARGS:-} "${XDIST[@]}" tests/test_device.py tests/test_cuda_kernels.py tests/test_serialization.py ${TESTS:-tests}
fi
TAIL=30 step bench 150 $PY -m bench --device cuda --out /tmp/bench_out
cp /tmp/bench_out/latest.json /tmp/bench_out/latest.md "$OUT"/ 2>/dev/null
[ $RUN_LENET = 1 ] && TAIL=30 step lenet5 240 $PY -m tinygrad_kr.experiments lenet5 --device cuda --data-dir .gpudata \
    --out /tmp/lenet5_out --overwrite "${LENET[@]}"
echo "=== host time per call"; timeout 60 $PY tools/gpu_overhead.py 2>&1 | tee -a "$OUT/info.log"
if [ "${PROFILE:-1}" = 1 ]; then
  timeout 120 $PY tools/gpu_profile.py "$OUT" >/tmp/profile.log 2>&1   # writes $OUT/profile.txt
  echo "=== profile: rc=$?"; head -n 6 "$OUT/profile.txt"
fi
