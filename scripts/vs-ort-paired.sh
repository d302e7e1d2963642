#!/usr/bin/env bash
# The six rows of the performance issue, joule (simd) and ONNX Runtime run in pairs: both stay
# loaded in two processes (bench/ab/joule_serve.cpp, bench/ab/ort_serve.js) and take turns a run at
# a time, which goes first alternating, so that each pair sees the same moment of this shared host.
# Prints each row's median of the per-pair ratios joule / ONNX Runtime with its quartiles, and both
# sides' medians.
#
# What it measures is not scripts/vs-ort-rounds.sh's back-to-back runs: every run here follows a
# run of the other process and PAUSE_MS of idleness (2 by default), with its caches cold. ONNX
# Runtime's intra-op threads otherwise spin for 40-50 ms after each run (the node process's CPU
# time, sampled after a MobileNetV2 run, grows 40-50 ms in the first 50 ms and not after), and a
# joule run started in that window shares the 2 vCPUs with them: at PAUSE_MS=2 joule's
# MobileNetV2 at batch 1 read 14.1 ms a run against 5.6 with ONNX Runtime told to stop spinning
# when a run ends. So ORT_SPIN defaults to "stop" (session.force_spinning_stop: its threads spin
# within a run, as joule's do, and sleep after it; ONNX Runtime's own time did not change, 5.2 ms
# both ways); ORT_SPIN=1 leaves ONNX Runtime's default, ORT_SPIN=0 turns its spinning off.
#
#   bash scripts/vs-ort-paired.sh [SECONDS_A_ROW] [MODEL:BATCH ...]   # default 40 and the six rows
#   ORT_SPIN=1 PAUSE_MS=100 bash scripts/vs-ort-paired.sh 60 resnet50:1
#   THREADS=1 bash scripts/vs-ort-paired.sh 60 resnet50:1      # both sides on one thread
#
# Needs ONNX Runtime set up by ../shared/peers/run-ort.sh (this script runs it once if it is not).
# Builds build/ab/joule_serve with -O3 -march=native from the working tree's headers.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-40}
shift || true
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(resnet50:1 resnet50:64 mobilenet_v2:1 mobilenet_v2:64 bert-base:1 bert-base:8)
peers=$(cd ../shared/peers && pwd)
T=/tmp/joule-peers
if [ ! -f "$T/models/bert_base.onnx" ] || [ ! -d "$T/ort/node_modules/onnxruntime-node" ]; then
  bash "$peers/run-ort.sh" --models resnet50 --min-runs 1 --target-s 0.1 >/dev/null
fi
out=build/ab
mkdir -p "$out"
flags=(-std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1)
c++ "${flags[@]}" -DAB_SIDE=new -Iinclude -c bench/ab/model_runner.cpp -o "$out/serve-runner.o" &
runner=$!
c++ "${flags[@]}" -c bench/ab/joule_serve.cpp -o "$out/joule_serve.o"
wait "$runner"
c++ "$out/joule_serve.o" "$out/serve-runner.o" -o "$out/joule_serve" -lpthread

JOULE_AB_THREADS=${THREADS:-2} ORT_SPIN=${ORT_SPIN:-stop} NODE_PATH=$T/ort/node_modules python3 - "$seconds" "${PAUSE_MS:-2}" "${rows[@]}" <<'PY'
import os, statistics, subprocess, sys, time

seconds, pause = float(sys.argv[1]), float(sys.argv[2]) / 1000
threads = os.environ.get("JOULE_AB_THREADS", "2")

def start(command):
    p = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    if p.stdout.readline().strip() != "ready":
        sys.exit(f"vs-ort-paired: {' '.join(command)} did not start")
    return p

def run(p):
    p.stdin.write("run\n")
    p.stdin.flush()
    return float(p.stdout.readline())

def q(values, f):
    values = sorted(values)
    return values[min(len(values) - 1, int(f * (len(values) - 1) + 0.5))]

table = []
for row in sys.argv[3:]:
    model, batch = row.split(":")
    joule = start(["build/ab/joule_serve", model, batch])
    ort = start(["node", "bench/ab/ort_serve.js", model.replace("bert-base", "bert_base"), batch, threads])
    pairs, deadline = [], time.monotonic() + seconds
    while len(pairs) < 5 or (time.monotonic() < deadline and len(pairs) < 400):
        # The one that goes first alternates; a pause before each run lets the other's threads
        # stop spinning and sleep.
        order = (joule, ort) if len(pairs) % 2 == 0 else (ort, joule)
        ms = {}
        for p in order:
            time.sleep(pause)
            ms[p] = run(p)
        pairs.append((ms[joule], ms[ort]))
    for p in (joule, ort):
        p.stdin.close()
        p.wait()
    ratios = [j / o for j, o in pairs]
    table.append(f"| {model} | {batch} | {len(pairs)} | {statistics.median(j for j, _ in pairs):.1f} ms | "
                 f"{statistics.median(o for _, o in pairs):.1f} ms | **{q(ratios, 0.5):.2f}** "
                 f"({q(ratios, 0.25):.2f}, {q(ratios, 0.75):.2f}) |")
    print(f"{row}: {len(pairs)} pairs", file=sys.stderr)
print("| model | batch | pairs | joule simd (median) | ONNX Runtime (median) | joule / ORT per pair: median (quartiles) |")
print("|---|---|---|---|---|---|")
print("\n".join(table))
PY
