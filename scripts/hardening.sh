#!/usr/bin/env bash
# joule's hardening checks, after the ordinary suite (scripts/test.sh): the sanitizer builds, the
# fuzzers for a bounded time, the static checks and the simd policy's AVX2 path. Prints each
# stage's time; fails if any fails, after running the others, so one CI run reports every problem.
#
#   bash scripts/hardening.sh                 # everything
#   bash scripts/hardening.sh static tsan     # some stages: static tsan fuzz asan isa
#   JOULE_FUZZ_SECONDS=10 bash scripts/hardening.sh
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1
failed=()
stage() {
  local name=$1 start=$SECONDS
  shift
  echo "=== hardening: $name"
  if "$@"; then
    echo "=== hardening: $name passed in $((SECONDS - start)) s"
  else
    echo "=== hardening: $name FAILED after $((SECONDS - start)) s" >&2
    failed+=("$name")
  fi
}
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(static tsan fuzz asan isa)
for name in "${wanted[@]}"; do
  case $name in
    static) stage "static checks (clang-format, clang-tidy, cppcheck)" bash scripts/static-checks.sh ;;
    tsan) stage "ThreadSanitizer (concurrency tests)" bash scripts/sanitizers.sh tsan ;;
    fuzz) stage "fuzzing (${JOULE_FUZZ_SECONDS:-60} s per target)" bash scripts/fuzz.sh ;;
    asan) stage "AddressSanitizer + UBSan (whole suite)" bash scripts/sanitizers.sh asan ;;
    isa) stage "the simd policy's AVX2 path (ops and nn tests, -march=haswell)" bash scripts/isa-tests.sh avx2 ;;
    *)
      echo "hardening: unknown stage '$name' (static, tsan, fuzz, asan or isa)" >&2
      exit 2
      ;;
  esac
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'hardening: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "hardening: all stages passed"
