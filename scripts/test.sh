#!/usr/bin/env bash
# The README's test command: installs what is missing, builds joule's tests (default preset:
# RelWithDebInfo, every backend found) and runs the whole suite with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
# Where nvcc exists, the CUDA policy and its tests must compile (ON: a toolkit that CMake cannot
# use fails here, instead of CUDA silently dropping out of CI). Without a GPU its tests are
# reported as skipped, with the reason.
cuda=()
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  cuda=(-DJOULE_WITH_CUDA=ON)
fi
cmake --preset default "${cuda[@]}"
cmake --build --preset default -j "$jobs"
ctest --preset default -j "$jobs"
