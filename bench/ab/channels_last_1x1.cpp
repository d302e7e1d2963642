// A 1x1 layer on a small plane, one image a call, two ways: ops::conv2d on the NCHW input with the
// weight packed with the pixels as rows (the GEMM reads the input transposed and writes the output
// transposed), against nn::conv_bn_act::forward_channels_last's GEMM on the same layer kept
// channels-last (the input read in place as A, the output written in order). Alternated in rounds
// of 20 calls; the medians and the median of the per-round ratios channels-last / conv2d.
// Default: MobileNetV2's last layer, 320 -> 1280 channels on 7 x 7.
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude \
//       bench/ab/channels_last_1x1.cpp -o build/ab/channels_last_1x1 -lpthread
//   build/ab/channels_last_1x1 [THREADS] [ROUNDS] [C_IN] [C_OUT] [SIZE]    # e.g. 1 15 320 1280 7
#include <joule/joule.hpp>

#include "ab_timing.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
using namespace joule;
using joule_ab::median;
using joule_ab::time_ms;
int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1, rounds = argc > 2 ? std::atoi(argv[2]) : 15;
  const int cin = argc > 3 ? std::atoi(argv[3]) : 320, cout_ = argc > 4 ? std::atoi(argv[4]) : 1280,
            size = argc > 5 ? std::atoi(argv[5]) : 7;
  context<simd> ctx(threads);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  const std::int64_t pixels = std::int64_t{size} * size;
  tensor<float> x(shape{1, cin, size, size}), xl(shape{pixels, cin}), w(shape{cout_, cin, 1, 1}), b(shape{cout_}),
      y(shape{1, cout_, size, size}), yl(shape{pixels, cout_});
  for (auto& v : x.span()) v = u(rng);
  for (std::int64_t p = 0; p < pixels; ++p)
    for (int c = 0; c < cin; ++c) xl.data()[p * cin + c] = x.data()[c * pixels + p];
  for (auto& v : w.span()) v = 0.05f * u(rng);
  for (auto& v : b.span()) v = u(rng);
  const tensor<float> packed = ops::pack_conv2d_weight<simd, ops::conv2d_packing::pixels_as_rows>(w.cview());
  const tensor<float> panels = ops::pack_gemm_b<simd>(w.cview().reshape(shape{cout_, cin}), true);
  auto conv = [&] {
    ops::conv2d(ctx, x.cview(), w.cview(), y.view(), {}, {.bias = b.cview(), .act = activation::relu6},
                {packed.cview(), ops::conv2d_packing::pixels_as_rows});
  };
  gemm_op g{.m = pixels, .n = cout_, .k = cin, .a = xl.data(), .lda = cin, .c = yl.data(), .ldc = cout_};
  g.b = panels.data();
  g.b_panel_width = panels.dim(2);
  g.ep.bias = b.data();
  g.ep.axis = bias_axis::column;
  g.ep.act = activation::relu6;
  auto cl = [&] { kernel<gemm_op, simd>::run(ctx, g); };
  conv();
  cl();
  double worst = 0;
  for (int c = 0; c < cout_; ++c)
    for (std::int64_t p = 0; p < pixels; ++p)
      worst = std::max(worst, double(std::abs(y.data()[c * pixels + p] - yl.data()[p * cout_ + c])));
  const int reps = 20;
  std::vector<double> a, c, ratio;
  for (int r = 0; r < rounds; ++r) {
    const double tc = time_ms(conv, reps), tg = time_ms(cl, reps);
    c.push_back(tc);
    a.push_back(tg);
    ratio.push_back(tg / tc);
  }
  const double flops = 2.0 * pixels * cin * cout_;
  std::printf(
      "threads %d  conv2d(pixel rows) %.3f ms (%3.0f GFLOP/s)  channels-last gemm %.3f ms (%3.0f GFLOP/s) ratio %.3f "
      "diff %.1e\n",
      threads, median(c), flops / median(c) / 1e6, median(a), flops / median(a) / 1e6, median(ratio), worst);
}
