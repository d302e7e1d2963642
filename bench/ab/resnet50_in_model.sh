#!/usr/bin/env bash
# Builds and runs bench/ab/resnet50_in_model.cpp: ResNet-50's layers timed inside the model. The
# timers go into a copy of include/ (build/ab/in-model-include), around every convolution of
# models/resnet.hpp's run_blocks(), the stem, the max pool and the fc; joule itself has none.
#
#   bash bench/ab/resnet50_in_model.sh [BATCH] [RUNS] [THREADS]    # default 1 40 2
#   JOULE_INCLUDE=/tmp/variant/include bash bench/ab/resnet50_in_model.sh    # another copy of the headers
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/ab
copy=$out/in-model-include
rm -rf "$copy" && mkdir -p "$copy" && cp -r "${JOULE_INCLUDE:-include}"/. "$copy"/
PYTHONPATH=bench/ab python3 - "$copy/joule/models/resnet.hpp" <<'PY'
import sys
from header_patch import Header
header = Header(sys.argv[1], "resnet50_in_model.sh")
swap = header.swap
clock = "std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count()"
swap("#pragma once", """#pragma once
#include <chrono>
#include <map>
#include <string>
#include <vector>
namespace joule {
inline std::map<std::string, double> g_layer_ms;
inline std::vector<std::string> g_layer_order;
inline void layer_time(const std::string& name, double ms) {
  if (!g_layer_ms.count(name)) g_layer_order.push_back(name);
  g_layer_ms[name] += ms;
}
}  // namespace joule""")
swap("""      b.conv1.forward(ctx, current, mid1);
      b.conv2.forward(ctx, mid1, mid2);""", f"""      auto timed = [&](const char* what, auto f) {{
        const auto start = std::chrono::steady_clock::now();
        f();
        layer_time("b" + std::to_string(i) + " " + what, {clock});
      }};
      timed("conv1", [&] {{ b.conv1.forward(ctx, current, mid1); }});
      timed("conv2", [&] {{ b.conv2.forward(ctx, mid1, mid2); }});""")
swap("        b.downsample.forward(ctx, current, projected);",
     '        timed("ds", [&] { b.downsample.forward(ctx, current, projected); });')
swap("      b.conv3.forward(ctx, mid2, out, identity);",
     '      timed("conv3", [&] { b.conv3.forward(ctx, mid2, out, identity); });')
swap("    stem_.forward(ctx, image, stem_out);", f"""    auto start = std::chrono::steady_clock::now();
    stem_.forward(ctx, image, stem_out);
    layer_time("stem", {clock});
    start = std::chrono::steady_clock::now();""")
swap("    ops::pool2d(ctx, stem_out, pooled, max_pool());", f"""    ops::pool2d(ctx, stem_out, pooled, max_pool());
    layer_time("maxpool", {clock});""")
# The stem and pool run as one where the policy fuses them (ops::conv2d_max_pool).
fused = "      stem_.forward_max_pool(ctx, image, pooled, max_pool());"
if header.has(fused):
    swap(fused, f"""      const auto start = std::chrono::steady_clock::now();
      stem_.forward_max_pool(ctx, image, pooled, max_pool());
      layer_time("stem+maxpool", {clock});""")
swap("    fc_.forward(ctx, pooled_.cview(), logits_.view());", f"""    const auto start = std::chrono::steady_clock::now();
    fc_.forward(ctx, pooled_.cview(), logits_.view());
    layer_time("fc", {clock});""")
header.save()
PY
c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -I"$copy" bench/ab/resnet50_in_model.cpp \
  -o "$out/resnet50_in_model"
"$out/resnet50_in_model" "${1:-1}" "${2:-40}" "${3:-2}"
