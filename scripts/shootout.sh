#!/usr/bin/env bash
# The README's first command: installs what is missing, builds joule in Release and runs the
# shootout of ResNet-50, MobileNetV2 and BERT-base on this machine: every policy and thread count,
# time and energy (measured where the machine has a sensor, estimated otherwise, and labelled).
# Tables go to stdout, progress to stderr; the chart (PNG and SVG), JSON and CSV go to
# build/release/shootout/, and every measurement to the wisdom file ($XDG_CACHE_HOME/joule/
# wisdom.json, else ~/.cache/joule/wisdom.json), so that running this again takes seconds.
# Extra arguments go to joule-shootout, e.g. --batch 1,64, --objective 'energy@p95<=50ms', --retune.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
cmake --preset release
cmake --build --preset release -j "$jobs" --target joule-info joule-shootout
./build/release/examples/joule-info
out=build/release/shootout
mkdir -p "$out"
./build/release/examples/joule-shootout --model all \
  --plot "$out/shootout.png" --plot "$out/shootout.svg" --json "$out/shootout.json" --csv "$out/shootout.csv" "$@"
