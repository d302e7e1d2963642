#!/usr/bin/env bash
# Builds and runs bench/ab/mobilenet_v2_in_model.cpp: MobileNetV2's blocks timed inside the model.
# The timers go into a copy of include/ (build/ab/mnv2-in-model-include), around the stem, each
# inverted residual block, the last 1x1 convolution and the pool in models/mobilenet_v2.hpp's
# features(); joule itself has none.
#
#   bash bench/ab/mobilenet_v2_in_model.sh [BATCH] [RUNS] [THREADS] [BAND_BYTES]  # default 64 3 2 0
#   JOULE_INCLUDE=/tmp/variant/include bash bench/ab/mobilenet_v2_in_model.sh    # another copy
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/ab
copy=$out/mnv2-in-model-include
rm -rf "$copy" && mkdir -p "$copy" && cp -r "${JOULE_INCLUDE:-include}"/. "$copy"/
PYTHONPATH=bench/ab python3 - "$copy/joule/models/mobilenet_v2.hpp" <<'PY'
import sys
from header_patch import Header
header = Header(sys.argv[1], "mobilenet_v2_in_model.sh")
swap = header.swap
swap("#pragma once", """#pragma once
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>
namespace joule {
inline std::map<std::string, double> g_layer_ms;
inline std::vector<std::string> g_layer_order;
inline std::mutex g_layer_mutex;  // two threads run whole images at once
template <class F>
void timed_layer(const std::string& name, F f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const std::lock_guard lock(g_layer_mutex);
  if (!g_layer_ms.count(name)) g_layer_order.push_back(name);
  g_layer_ms[name] += ms;
}
}  // namespace joule""")
swap("    stem_.forward(ctx, image, current);",
     '    timed_layer("stem", [&] { stem_.forward(ctx, image, current); });')
swap("        b.forward(ctx, workers_, current, out, t1.view(), t2.view(), band_bytes_);",
     '        timed_layer("block " + std::to_string(i + 1), [&] { b.forward(ctx, workers_, current, out, t1.view(), t2.view(), band_bytes_); });')
swap("        b.forward_channels_last(ctx, workers_, current, out, t1.view(), t2.view());",
     '        timed_layer("block " + std::to_string(i + 1), [&] { b.forward_channels_last(ctx, workers_, current, out, t1.view(), t2.view()); });')
swap("      if (wants_channels_last != channels_last) relayout(in, wants_channels_last);",
     '      if (wants_channels_last != channels_last) timed_layer("relayout", [&] { relayout(in, wants_channels_last); });')
swap("    if (channels_last) relayout(",
     '    if (channels_last) timed_layer("relayout", [&] { relayout(')
swap(", n), false);\n",
     ', n), false); });\n')
swap("        last_.forward_channels_last(ctx, current, out);",
     '        timed_layer("last", [&] { last_.forward_channels_last(ctx, current, out); });')
swap("        nn::global_avg_pool_channels_last(out, pooled);",
     '        timed_layer("pool", [&] { nn::global_avg_pool_channels_last(out, pooled); });')
swap("    last_.forward(ctx, current, out);",
     '    timed_layer("last", [&] { last_.forward(ctx, current, out); });')
swap("    ops::global_avg_pool(ctx, tensor_view<const float>(out), pooled);",
     '    timed_layer("pool", [&] { ops::global_avg_pool(ctx, tensor_view<const float>(out), pooled); });')
swap("    classifier_.forward(ctx, pooled_.cview(), logits_.view());",
     '    timed_layer("classifier", [&] { classifier_.forward(ctx, pooled_.cview(), logits_.view()); });')
header.save()
PY
c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -I"$copy" bench/ab/mobilenet_v2_in_model.cpp \
  -o "$out/mobilenet_v2_in_model"
"$out/mobilenet_v2_in_model" "${1:-64}" "${2:-3}" "${3:-2}" "${4:-0}"
