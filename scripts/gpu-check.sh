#!/usr/bin/env bash
# joule's CUDA checks on a GPU machine that has the NVIDIA driver and CUDA 13's libraries but not
# joule's build dependencies (a rented or borrowed GPU box). Two steps:
#
#   bash scripts/gpu-check.sh pack   # here, with the toolkit: builds cuda_tests, joule-shootout and
#                                    # joule-info for sm_90 and x86-64-v4 (any AVX-512 host) in
#                                    # build/gpu and copies them, with the non-CUDA shared
#                                    # libraries they need (OpenBLAS, cairo, ...), into .devcarry/
#   bash scripts/gpu-check.sh run    # there, from a copy of the repository that holds .devcarry/:
#                                    # the CUDA tests, then a shootout of simd (every core) and cuda
#                                    # at batch 1 (every thread count took 5 minutes on 16 cores)
#
# cuBLAS, cuDNN and the CUDA runtime are taken from the GPU machine (the toolkit's or the Python
# wheels' copies, found by name). cuda_tests has its data directory compiled in as this checkout's
# tests/data: run links that path to the copy. OUT, if set, gets the log and the shootout's JSON/CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  pack)
    cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DJOULE_NATIVE=OFF -DJOULE_WITH_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CXX_FLAGS=-march=x86-64-v4 -DCMAKE_CUDA_FLAGS=-Xcompiler=-march=x86-64-v4
    cmake --build build/gpu -j "$(nproc)" --target cuda_tests joule-shootout joule-info
    rm -rf .devcarry && mkdir -p .devcarry/lib
    cp build/gpu/tests/cuda/cuda_tests build/gpu/examples/joule-shootout build/gpu/examples/joule-info .devcarry/
    echo "$PWD" >.devcarry/built-in
    for b in cuda_tests joule-shootout; do ldd ".devcarry/$b"; done | awk '{print $3}' |
      grep -vE '^$|/usr/local/cuda|/(libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|ld-linux)[.-]' |
      sort -u | xargs -r -I{} cp -L {} .devcarry/lib/
    du -sh .devcarry
    ;;
  run)
    out=${OUT:-/tmp}
    exec > >(tee "$out/gpu-check.log") 2>&1
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    built_in=$(cat .devcarry/built-in)
    if [ "$built_in" != "$PWD" ] && [ ! -e "$built_in" ]; then mkdir -p "$(dirname "$built_in")" && ln -s "$PWD" "$built_in"; fi
    libs=$(find / -xdev \( -name 'libcudnn.so.9' -o -name 'libcublas.so.13' -o -name 'libcudart.so.13' \) \
      -printf '%h\n' 2>/dev/null | sort -u | tr '\n' ':')
    export LD_LIBRARY_PATH="$PWD/.devcarry/lib:$libs${LD_LIBRARY_PATH:-}"
    .devcarry/joule-info
    status=0
    .devcarry/cuda_tests || status=$?
    XDG_CACHE_HOME=/tmp/joule-gpu-check .devcarry/joule-shootout --model all --policies simd,cuda --threads "$(nproc)" --budget 1 \
      --json "$out/gpu-shootout.json" --csv "$out/gpu-shootout.csv" || status=$?
    exit "$status"
    ;;
  *)
    sed -n '2,15p' "$0" >&2
    exit 2
    ;;
esac
