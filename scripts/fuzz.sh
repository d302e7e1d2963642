#!/usr/bin/env bash
# Builds joule's libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan) and runs each for a
# bounded time, two at a time (this is a 2-core machine): JOULE_FUZZ_SECONDS per target, 60 by
# default. Fails on any finding. A finding is left in build/fuzz/findings/<target>/ (crash-*,
# leak-*, timeout-*, oom-*): fix the bug, then copy the input into tests/fuzz/regressions/<target>/,
# where the ordinary suite replays it for good (the fuzz_replay_<target> CTest tests).
#
#   bash scripts/fuzz.sh                      # every target, 60 s each
#   JOULE_FUZZ_SECONDS=600 bash scripts/fuzz.sh npy safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
seconds=${JOULE_FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors npy wisdom run_cli shootout_cli)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

root=$PWD
bin=build/fuzz/tests/fuzz
run_one() {
  local target=$1 work=build/fuzz/work/$1 findings=build/fuzz/findings/$1
  # The seeds are read from the tree; what libFuzzer learns goes to build/, never into git.
  mkdir -p "$work" "$findings"
  if "$bin/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$findings/" "$work" "tests/fuzz/corpus/$target" "tests/fuzz/regressions/$target" \
       >"build/fuzz/$target.log" 2>&1; then
    echo "fuzz: $target: no finding in ${seconds} s ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
      "build/fuzz/$target.log" | grep -o '[0-9]*$') inputs)"
  else
    echo "fuzz: $target: FINDING; log build/fuzz/$target.log, input(s) in $root/$findings/:" >&2
    ls "$findings" >&2
    tail -n 40 "build/fuzz/$target.log" >&2
    return 1
  fi
}
export -f run_one
export seconds bin root
printf '%s\n' "${targets[@]}" | xargs -P 2 -I{} bash -c 'run_one {}'
