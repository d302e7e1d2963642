#!/usr/bin/env bash
# A/B of the simd policy on one model: the headers of an older revision against the working
# tree's, compiled into one program that runs the two executors alternately (bench/ab/). The
# machines we measure on are shared and drift by tens of percent within minutes; side by side in
# one process, both sides see the same moments, and the per-round ratio new / old is what to quote.
#
#   bash scripts/ab-models.sh OLD_REV MODEL BATCH ROUNDS [IMAGES_AT_ONCE]
#   bash scripts/ab-models.sh HEAD resnet50 1 40        # this working tree against HEAD
#   bash scripts/ab-models.sh 3e32d24 resnet50 64 3 8
#
# MODEL: resnet50, mobilenet_v2 or bert-base (224x224 images, 128 tokens; random weights).
# IMAGES_AT_ONCE: vision models' compile_options::images_at_once (0: the model's default).
# Builds in build/ab/ with -O3 -march=native (the release preset's flags for joule's programs).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 4 ]; then
  sed -n '7,9p' "$0" >&2
  exit 2
fi
old_rev=$(git rev-parse --short "$1")
shift
out=build/ab
mkdir -p "$out"
flags=(-std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1)

# The old side: its include/ from git, compiled once per revision, its namespace renamed. The three
# objects compile in parallel; each one's failure must stop the script, hence a wait per job.
jobs=()
if [ ! -f "$out/old-$old_rev.o" ]; then
  rm -rf "$out/old-$old_rev"
  mkdir -p "$out/old-$old_rev"
  git archive "$old_rev" include | tar -x -C "$out/old-$old_rev"
  c++ "${flags[@]}" -DAB_SIDE=old -Djoule=joule_old -I"$out/old-$old_rev/include" \
    -c bench/ab/model_runner.cpp -o "$out/old-$old_rev.o.tmp" &
  jobs+=($!)
fi
c++ "${flags[@]}" -DAB_SIDE=new -Iinclude -c bench/ab/model_runner.cpp -o "$out/new.o" &
jobs+=($!)
c++ "${flags[@]}" -c bench/ab/alternate.cpp -o "$out/alternate.o" &
jobs+=($!)
for job in "${jobs[@]}"; do wait "$job"; done
[ -f "$out/old-$old_rev.o" ] || mv "$out/old-$old_rev.o.tmp" "$out/old-$old_rev.o"
c++ "$out/alternate.o" "$out/old-$old_rev.o" "$out/new.o" -o "$out/ab-$old_rev" -lpthread
echo "old: $old_rev; new: the working tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- include || echo ' + changes'))"
"$out/ab-$old_rev" "$@"
