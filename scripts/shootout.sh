#!/usr/bin/env bash
# The README's first command: installs what is missing, builds joule in Release and runs its main
# job on this machine. Extra arguments go to the shootout.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
cmake --preset release
cmake --build --preset release -j "$jobs" --target joule-info bench_gemm
./build/release/examples/joule-info
./build/release/bench/bench_gemm --benchmark_min_time=0.2 "$@"
