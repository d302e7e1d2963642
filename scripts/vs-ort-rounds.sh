#!/usr/bin/env bash
# The six rows of the performance issue with ONNX Runtime and joule (simd) measured in alternation:
# per round and model, ONNX Runtime's batches, then joule's, so that both see the same minutes of
# this shared, noisy host (sittings that ran ONNX Runtime a few minutes before joule read ratios
# from 1.0 to 1.7 for the same build). Prints each row's median of the per-round ratios
# joule / ONNX Runtime, with the quartiles, and both sides' medians.
#
#   bash scripts/vs-ort-rounds.sh [ROUNDS]        # default 5; about 1.5 minutes a round
#
# Needs build/release/bench/bench_vs_ort (cmake --preset release && cmake --build build/release)
# and ONNX Runtime set up by ../shared/peers/run-ort.sh (this script runs it once if it is not).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
peers=$(cd ../shared/peers && pwd)
T=/tmp/joule-peers
bench=build/release/bench/bench_vs_ort
[ -x "$bench" ] || { echo "build $bench first (cmake --preset release && cmake --build build/release)" >&2; exit 2; }
if [ ! -f "$T/models/bert_base.onnx" ] || [ ! -d "$T/ort/node_modules/onnxruntime-node" ]; then
  bash "$peers/run-ort.sh" --models resnet50 --min-runs 1 --target-s 0.1 >/dev/null
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((r = 1; r <= rounds; ++r)); do
  for m in resnet50 mobilenet_v2 bert_base; do
    joule_model=${m/bert_base/bert-base}
    NODE_PATH=$T/ort/node_modules node "$peers/bench_ort.js" --model-dir "$T/models" --models "$m" \
      --min-runs 3 --target-s 1 --csv "$out/ort.csv" >/dev/null
    "$bench" --benchmark_filter="^$joule_model/batch:[0-9]+/simd/" --ort-csv="$out/ort.csv" 2>/dev/null |
      grep -E "^\| $joule_model \| [0-9]+ \|" | sed "s/^/$r /" >>"$out/rows.txt"
  done
  echo "round $r of $rounds done" >&2
done
python3 - "$out/rows.txt" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    round_, rest = line.split(" ", 1)
    cells = [c.strip() for c in rest.strip().strip("|").split("|")]
    if len(cells) < 10:  # the peak-RSS table's rows
        continue
    # | model | batch | simd | blas | eigen | best | ORT (issue) | ratio | ORT (here) | ratio here |
    model, batch, simd, ort_here = cells[0], int(cells[1]), cells[2], cells[8]
    def ms(text):
        value, unit = text.split()
        return float(value) * (1000.0 if unit == "s" else 1.0)
    rows.setdefault((model, batch), []).append((ms(simd), ms(ort_here)))
def q(values, f):
    values = sorted(values)
    return values[min(len(values) - 1, int(f * (len(values) - 1) + 0.5))]
print("| model | batch | rounds | joule simd (median) | ONNX Runtime (median) | joule / ORT per round: median (quartiles) |")
print("|---|---|---|---|---|---|")
for (model, batch), pairs in rows.items():
    ratios = [j / o for j, o in pairs]
    print(f"| {model} | {batch} | {len(pairs)} | {statistics.median(j for j, _ in pairs):.1f} ms | "
          f"{statistics.median(o for _, o in pairs):.1f} ms | **{q(ratios, 0.5):.2f}** ({q(ratios, 0.25):.2f}, {q(ratios, 0.75):.2f}) |")
EOF
