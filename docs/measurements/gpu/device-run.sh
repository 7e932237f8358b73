#!/bin/bash
# The one GPU run of issue 10 that needs no Node (the H200 image has none): builds harness.cpp with
# g++ against fitter/cuda/src and fitter/native/src, points HEPFIT_CUDA_LIBS at python's nvidia-*
# wheels (plus CUDA_HOME and /usr/local/cuda*), and runs the engine equivalence on models/*.bin and
# the W-mass-size timings. Output also goes to $OUT/device-run.log when OUT is set.
#   bash docs/measurements/gpu/device-run.sh [harness options: --threads 16 --toys 100 --emulate …]
set -uo pipefail
cd "$(dirname "$0")/../../.."
LOG=${OUT:-/tmp}/device-run.log
BIN=/tmp/hepfit-cuda-harness
{
  echo "# device-run $(date -u +%FT%TZ) on $(hostname), $(nproc) cores"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  # python's nvidia wheels (the image's torch/jax/cupy hold CUDA 13 ones): their lib folders
  if command -v python3 >/dev/null; then
    PYLIBS=$(python3 - <<'PY' 2>/dev/null
import glob, os, site, sys
roots = set(site.getsitepackages() + [site.getusersitepackages()] + [p for p in sys.path if p.endswith("-packages")])
print(":".join(sorted({d for r in roots for d in glob.glob(os.path.join(r, "nvidia", "*", "lib")) + glob.glob(os.path.join(r, "nvidia", "*", "lib64"))})))
PY
)
    export HEPFIT_CUDA_LIBS="${HEPFIT_CUDA_LIBS:+$HEPFIT_CUDA_LIBS:}$PYLIBS"
  fi
  echo "HEPFIT_CUDA_LIBS=${HEPFIT_CUDA_LIBS:-}"
  export HEPFIT_CUDA_CACHE=${HEPFIT_CUDA_CACHE:-/tmp/hepfit-cuda-cache}
  t0=$(date +%s)
  g++ -std=c++17 -O3 -march=native -fno-math-errno -Wall -Wno-unused-parameter \
    -Ifitter/cuda/src -Ifitter/native/src \
    docs/measurements/gpu/harness.cpp fitter/cuda/src/engine.cpp fitter/cuda/src/loader.cpp fitter/cuda/src/cudaDevice.cpp \
    fitter/cuda/src/emulate.cpp fitter/native/src/evaluator.cpp fitter/native/src/dense.cpp fitter/native/src/threadPool.cpp \
    -ldl -lpthread -o "$BIN" || { echo "harness build failed"; exit 1; }
  echo "harness built in $(( $(date +%s) - t0 )) s"
  "$BIN" --root . --threads "$(nproc)" "$@"
  rc=$?
  echo "harness exit $rc"
  # the second run loads the kernels from the cache
  [ "$rc" -ne 2 ] && "$BIN" --root . --threads "$(nproc)" --models /nonexistent --bins 100 --systs 100 --toys 10 "$@" 2>&1 | grep -E "^setup|^device"
  exit $rc
} 2>&1 | tee "$LOG"
