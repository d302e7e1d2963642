#!/usr/bin/env bash
# joule's tests under the sanitizers:
#   asan  the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (the `asan` preset)
#   tsan  the concurrency tests (tests/concurrency) under ThreadSanitizer (the `tsan` preset); only
#         those, since TSan slows everything 5-15x and they are where threads meet. OpenBLAS's own
#         threads are not instrumented, so the test preset sets OPENBLAS_NUM_THREADS=1: each executor's
#         BLAS calls then run on the executor's own thread, where TSan sees them.
#         The wisdom test with 8 forked writers is filtered out (GTEST_FILTER in the preset): TSan sees
#         no races between processes, and forked children under TSan took minutes; the default and
#         asan builds run it.
#
#   bash scripts/sanitizers.sh          # both
#   bash scripts/sanitizers.sh tsan     # one
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(asan tsan)
for stage in "${stages[@]}"; do
  start=$SECONDS
  case $stage in
    asan)
      cmake --preset asan >/dev/null
      cmake --build --preset asan -j "$jobs"
      ctest --preset asan -j "$jobs"
      ;;
    tsan)
      cmake --preset tsan >/dev/null
      cmake --build --preset tsan -j "$jobs" --target concurrency_executors concurrency_wisdom_concurrent concurrency_blas_threads
      ctest --preset tsan -j "$jobs"
      ;;
    *)
      echo "sanitizers: unknown stage '$stage' (asan or tsan)" >&2
      exit 2
      ;;
  esac
  echo "sanitizers: $stage took $((SECONDS - start)) s"
done
