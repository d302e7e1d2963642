// MobileNetV2's first block (no expansion: a 3x3 depthwise layer, then a 1x1 project layer;
// 32 -> 16 channels on 112 x 112 by default) on one image: each layer alone (conv_bn_act::forward,
// 50 calls in a row) and the block as nn::inverted_residual runs it, at a band budget (0: the
// block's default). Rounds of the three in turn; the median of the rounds. Warm caches, the same
// input every call: in the model the block's input comes fresh from the stem
// (bench/ab/mobilenet_v2_in_model.sh times it there).
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude \
//       bench/ab/mobilenet_v2_block1.cpp -o build/ab/mobilenet_v2_block1 -lpthread
//   build/ab/mobilenet_v2_block1 [THREADS] [ROUNDS] [C_IN] [C_OUT] [SIZE] [BAND_BYTES]   # e.g. 2 21
#include <joule/joule.hpp>

#include "ab_timing.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <random>
using namespace joule;
using joule_ab::median;
using joule_ab::time_ms;
template <class L>
L prep(L layer, std::uint64_t seed) {
  std::vector<weight_spec> m;
  layer.add_to_manifest(m);
  layer.prepare(random_weights(m, seed));
  return layer;
}
int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2, rounds = argc > 2 ? std::atoi(argv[2]) : 21;
  const std::int64_t band = argc > 6 ? std::atoll(argv[6]) : 0;
  const std::int64_t cin = argc > 3 ? std::atoi(argv[3]) : 32, cout_ = argc > 4 ? std::atoi(argv[4]) : 16,
                     size = argc > 5 ? std::atoi(argv[5]) : 112;
  context<simd> ctx(threads);
  auto dw = prep(nn::conv_bn_act<simd>({"d", "db", cin, cin, 3, 1, cin, activation::relu6}), 1);
  auto pr = prep(nn::conv_bn_act<simd>({"p", "pb", cin, cout_, 1, 1, 1, activation::none}), 2);
  nn::inverted_residual<simd> block(nn::inverted_residual_spec{"features.1.conv.", cin, cin, cout_, 1});
  {
    std::vector<weight_spec> m;
    block.add_to_manifest(m);
    block.prepare(random_weights(m, 3));
  }
  std::mt19937_64 rng(1);
  tensor<float> x(shape{1, cin, size, size}), f(shape{1, cin, size, size}), y(shape{1, cout_, size, size});
  for (auto& v : x.span()) v = float(rng() % 1000) / 1000.f;
  nn::thread_contexts<simd> workers;
  tensor<float> hid(shape{4 * cin * size * size}), fil(shape{4 * cin * size * size});
  std::vector<double> a, b, c;
  for (int r = 0; r < rounds; ++r) {
    a.push_back(time_ms([&] { dw.forward(ctx, x.cview(), f.view()); }, 50));
    b.push_back(time_ms([&] { pr.forward(ctx, f.cview(), y.view()); }, 50));
    c.push_back(time_ms([&] { block.forward(ctx, workers, x.cview(), y.view(), hid.view(), fil.view(), band); }, 50));
  }
  std::printf("threads %d: depthwise %.3f ms, project %.3f ms, block %.3f ms\n", threads, median(a), median(b),
              median(c));
}
