#!/usr/bin/env bash
# The README's test command: installs what is missing, builds joule's tests (default preset:
# RelWithDebInfo, every backend found) and runs the whole suite with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
cmake --preset default
cmake --build --preset default -j "$jobs"
ctest --preset default -j "$jobs"
