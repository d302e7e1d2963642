#!/usr/bin/env bash
# The simd policy's narrower instruction sets, tested: the operator and layer conformance tests
# (tests/ops, tests/nn: every policy against a double-precision reference) built for one ISA
# instead of -march=native. The kernels have AVX-512, AVX2 and SSE paths from the same source
# (policy/simd/vector_math.hpp, gemm.hpp, conv2d_pixel_rows.hpp, conv2d_winograd.hpp, row_taps.hpp,
# detail/im2col.hpp); the development machines are AVX-512, so the ordinary suite runs only that
# path. An SSE-only build once left two pixels of every six unwritten (docs/results.md,
# 2026-12-07), found by hand.
#
#   bash scripts/isa-tests.sh           # avx2 (-march=haswell): AMD Zen 1-3, Intel client cores
#   bash scripts/isa-tests.sh avx2 sse  # and sse (-march=x86-64-v2: SSE4.2, 4 floats a vector)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
isas=("$@")
[ ${#isas[@]} -gt 0 ] || isas=(avx2)
jobs=$(nproc)
for isa in "${isas[@]}"; do
  case $isa in
    avx2 | sse) ;;
    *)
      echo "isa-tests: unknown instruction set '$isa' (avx2 or sse)" >&2
      exit 2
      ;;
  esac
  start=$SECONDS
  cmake --preset "$isa" >/dev/null
  # Only the ops and nn test programs: the whole suite would build the models and tools again.
  mapfile -t targets < <(ninja -C "build/$isa" -t targets all | grep -o '^tests/\(ops\|nn\)_[a-z0-9_]*:' |
    sed 's#^tests/##; s/:$//' | sort -u)
  cmake --build --preset "$isa" -j "$jobs" --target "${targets[@]}"
  ctest --preset "$isa" -j "$jobs" -R '^(ops|nn)_'
  echo "isa-tests: $isa: ${#targets[@]} test programs passed in $((SECONDS - start)) s"
done
