#!/usr/bin/env bash
# joule's static checks: clang-format (the .clang-format style), clang-tidy (.clang-tidy) and
# cppcheck, over the whole tree. Fails on any finding. Configures the `tidy` preset (clang,
# compile_commands.json; nothing is built) and runs the three in turn, printing each one's time.
#
#   bash scripts/static-checks.sh            # all three
#   bash scripts/static-checks.sh format     # one of: format tidy cppcheck
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(format tidy cppcheck)
jobs=$(nproc)

# Every tracked C++ and CUDA source; CUDA (.cu, .cuh, include/joule/policy/cuda/) arrives from the cuda branch.
mapfile -t sources < <(git ls-files '*.hpp' '*.cpp' '*.h' '*.cu' '*.cuh')

# clang-tidy cannot check every TU on 2 cores in CI time (one heavy test TU takes about a minute), so
# it checks these: together they include every header under include/joule (checked below, so a new
# header that none of them reaches fails here instead of going unchecked), and they are joule's own
# sources with the most logic outside the headers. The tidy preset configures without CUDA, so .cu
# files and the headers only a CUDA build includes (policy/cuda/, core/device_executor.hpp,
# choose/cuda_candidates.hpp) are not analysed: clang-tidy would need clang's CUDA mode and a GPU
# architecture setup nvcc does not use, and the CUDA build's host side has not been made clean yet.
tidy_units=(
  examples/joule_run.cpp          # models, nn, ops, every CPU policy, io (npy, safetensors, weights)
  examples/joule_shootout.cpp     # choose, energy (every meter), the chart, the command line
  tests/concurrency/test_wisdom_concurrent.cpp
  tests/fuzz/fuzz_npy.cpp
  tests/fuzz/fuzz_safetensors.cpp
  tests/fuzz/fuzz_run_cli.cpp
  tests/fuzz/fuzz_shootout_cli.cpp
  tests/energy/test_nvml.cpp      # the NVML meter's dlopen path
  tests/core/test_core.cpp        # core: tensor, shape, thread pool, typelists
  tests/energy/energy_check.cpp   # the energy umbrella header
  tests/energy/test_benchmark.cpp # energy/benchmark.hpp (Google Benchmark counters; not in the umbrella)
)

configure_tidy() {
  cmake --preset tidy >/dev/null
}

stage_format() {
  local bad=()
  for f in "${sources[@]}"; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    echo "clang-format: ${#bad[@]} of ${#sources[@]} files differ from .clang-format (clang-format -i FILE fixes one):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    return 1
  fi
  echo "clang-format: ${#sources[@]} files formatted"
}

stage_tidy() {
  configure_tidy
  # Every header under include/joule must be reached by one of the units.
  python3 - "${tidy_units[@]}" <<'PY' || return 1
import json, os, shlex, subprocess, sys
commands = {os.path.realpath(e["file"]): e for e in json.load(open("build/tidy/compile_commands.json"))}
reached = set()
for unit in sys.argv[1:]:
    entry = commands.get(os.path.realpath(unit))
    if entry is None:
        sys.exit(f"clang-tidy: {unit} is not in build/tidy/compile_commands.json")
    args = shlex.split(entry["command"])
    args = [a for a in args if a not in ("-c",)]
    out_at = args.index("-o")
    del args[out_at:out_at + 2]
    deps = subprocess.run(args + ["-M", "-MF", "-", "-E", "-o", "/dev/null"], cwd=entry["directory"],
                          capture_output=True, text=True, check=True).stdout
    for token in deps.replace("\\\n", " ").split():
        if "/include/joule/" in token:
            reached.add(os.path.realpath(os.path.join(entry["directory"], token)))
headers = subprocess.run(["git", "ls-files", "include/joule"], capture_output=True, text=True, check=True).stdout.split()
# The tidy preset builds without CUDA (see the comment above tidy_units), so the headers that only
# a CUDA build includes are not expected to be reached.
cuda_only = ("/policy/cuda/", "core/device_executor.hpp", "choose/cuda_candidates.hpp")
missing = [h for h in headers if h.endswith((".hpp", ".h")) and os.path.realpath(h) not in reached
           and not any(part in h for part in cuda_only)]
if missing:
    sys.exit("clang-tidy: no unit in scripts/static-checks.sh includes " + ", ".join(missing) +
             "; add a unit that does")
print(f"clang-tidy: {len(sys.argv) - 1} units include all {len(headers)} headers under include/joule")
PY
  run-clang-tidy -quiet -p build/tidy -j "$jobs" "${tidy_units[@]/#/$PWD/}" >build/tidy/clang-tidy.log 2>&1 || {
    sed 's/\x1b\[[0-9;]*m//g' build/tidy/clang-tidy.log | grep -E '(warning|error):' | sort -u >&2
    echo "clang-tidy: findings above (full log: build/tidy/clang-tidy.log)" >&2
    return 1
  }
  echo "clang-tidy: ${#tidy_units[@]} units clean"
}

stage_cppcheck() {
  configure_tidy
  # cppcheck reads every TU of compile_commands.json (tests, examples, benchmarks) with joule's headers.
  # Suppressions, each with its reason, are in scripts/cppcheck-suppressions.txt.
  # nvcc's units (.cu) are left out: cppcheck has no CUDA mode, and what they include from joule is
  # checked through the C++ units.
  python3 -c 'import json, sys
units = [u for u in json.load(open(sys.argv[1])) if not u["file"].endswith(".cu")]
json.dump(units, open(sys.argv[2], "w"))' build/tidy/compile_commands.json build/tidy/compile_commands_cpp.json
  cppcheck --project=build/tidy/compile_commands_cpp.json --enable=warning,performance,portability \
    --error-exitcode=1 --inline-suppr --suppressions-list=scripts/cppcheck-suppressions.txt \
    -i build -j "$jobs" --quiet --std=c++20 --library=googletest \
    --template='{file}:{line}: {severity} ({id}): {message}' 2>build/tidy/cppcheck.log || {
    cat build/tidy/cppcheck.log >&2
    echo "cppcheck: findings above" >&2
    return 1
  }
  [ ! -s build/tidy/cppcheck.log ] || { cat build/tidy/cppcheck.log >&2; return 1; }
  echo "cppcheck: clean"
}

status=0
for stage in "${stages[@]}"; do
  start=$SECONDS
  "stage_$stage" || status=1
  echo "static-checks: $stage took $((SECONDS - start)) s"
done
exit $status
