// ResNet-50's stride-1 3x3 layers on the simd policy, Winograd F(2x2, 3x3) and F(4x4, 3x3) against
// the usual lowering (im2col + GEMM, weight packed with the channels as rows), alternated in one
// process so that all three see the same moments of a noisy host. Prints each layer's medians and
// the medians of the per-round ratios Winograd / usual.
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude \
//       bench/ab/winograd_layers.cpp -o build/ab/winograd_layers
//   build/ab/winograd_layers IMAGES ROUNDS      # e.g. 1 20, 16 5
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <joule/joule.hpp>

#include "ab_timing.hpp"

int main(int argc, char** argv) {
  using namespace joule;
  using joule_ab::median;
  const int images = argc > 1 ? std::atoi(argv[1]) : 1, rounds = argc > 2 ? std::atoi(argv[2]) : 20;
  context<simd> ctx(2);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1, 1);
  struct layer {
    int channels, size;
  };
  for (const layer l : {layer{64, 56}, layer{128, 28}, layer{256, 14}, layer{512, 7}}) {
    tensor<float> x(shape{images, l.channels, l.size, l.size}), w(shape{l.channels, l.channels, 3, 3}),
        b(shape{l.channels}), y(x.shape());
    for (auto& v : x.span()) v = std::max(0.f, uniform(rng));  // post-ReLU activations
    for (auto& v : w.span()) v = 0.05f * uniform(rng);
    for (auto& v : b.span()) v = uniform(rng);
    using ops::conv2d_packing;
    const auto rows = ops::pack_conv2d_weight<simd, conv2d_packing::channels_as_rows>(w.cview());
    const auto wino2 = ops::pack_conv2d_weight<simd, conv2d_packing::winograd_3x3>(w.cview());
    const auto wino4 = ops::pack_conv2d_weight<simd, conv2d_packing::winograd_4x4_3x3>(w.cview());
    const ops::packed_conv2d_weight ways[] = {{rows.cview(), conv2d_packing::channels_as_rows},
                                              {wino2.cview(), conv2d_packing::winograd_3x3},
                                              {wino4.cview(), conv2d_packing::winograd_4x4_3x3}};
    const int reps = std::max(1, 20 / images);
    auto run = [&](const ops::packed_conv2d_weight& way) {
      return joule_ab::time_ms(
          [&] {
            ops::conv2d(ctx, x.cview(), w.cview(), y.view(), {.pad_h = 1, .pad_w = 1},
                        {.bias = b.cview(), .act = activation::relu}, way);
          },
          reps);
    };
    for (const auto& way : ways) run(way);  // warm-up: scratch memory, caches
    std::vector<double> ms[3], ratio[2];
    for (int r = 0; r < rounds; ++r) {
      for (int i = 0; i < 3; ++i) ms[i].push_back(run(ways[i]));
      for (int i = 0; i < 2; ++i) ratio[i].push_back(ms[i + 1].back() / ms[0].back());
    }
    const double flops = 2.0 * images * l.channels * l.channels * 9 * l.size * l.size;
    std::printf(
        "%3d channels %2dx%-2d x %d: usual %.3f ms (%.0f GFLOP/s), F(2x2) %.3f ms (%.0f direct-equivalent), "
        "F(4x4) %.3f ms (%.0f); / usual: F(2x2) %.3f, F(4x4) %.3f\n",
        l.channels, l.size, l.size, images, median(ms[0]), flops / median(ms[0]) / 1e6, median(ms[1]),
        flops / median(ms[1]) / 1e6, median(ms[2]), flops / median(ms[2]) / 1e6, median(ratio[0]), median(ratio[1]));
  }
}
