// A 1x1 layer on a small plane, one image a call, two ways: ops::conv2d on the NCHW input with the
// weight packed with the pixels as rows (the GEMM reads the input transposed and writes the output
// transposed), against nn::conv_bn_act::forward_channels_last's GEMM on the same layer kept
// channels-last (the input read in place as A, the output written in order). Alternated in rounds
// of 20 calls; the medians and the median of the per-round ratios channels-last / conv2d.
// Default: MobileNetV2's last layer, 320 -> 1280 channels on 7 x 7. IMAGES > 1 runs that many
// images a call, conv2d with the weight packed as its usual lowering takes it (channels as rows:
// one GEMM over every image's pixels, B packed per call), the GEMM channels-last with every image's
// pixels as rows; RESIDUAL 1 adds a residual in both (ResNet-50's conv3 layers).
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude \
//       bench/ab/channels_last_1x1.cpp -o build/ab/channels_last_1x1 -lpthread
//   build/ab/channels_last_1x1 [THREADS] [ROUNDS] [C_IN] [C_OUT] [SIZE] [IMAGES] [RESIDUAL]
//   build/ab/channels_last_1x1 1 15 320 1280 7
//   build/ab/channels_last_1x1 2 9 256 1024 14 8 1     # ResNet-50's stage-3 conv3 at 8 images a call
#include <joule/joule.hpp>

#include "ab_timing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
using namespace joule;
int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1, rounds = argc > 2 ? std::atoi(argv[2]) : 15;
  const int cin = argc > 3 ? std::atoi(argv[3]) : 320, cout_ = argc > 4 ? std::atoi(argv[4]) : 1280,
            size = argc > 5 ? std::atoi(argv[5]) : 7, images = argc > 6 ? std::max(1, std::atoi(argv[6])) : 1;
  const bool with_residual = argc > 7 && std::atoi(argv[7]) != 0;
  context<simd> ctx(threads);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  const std::int64_t pixels = std::int64_t{size} * size;
  tensor<float> x(shape{images, cin, size, size}), xl(shape{images * pixels, cin}), w(shape{cout_, cin, 1, 1}),
      b(shape{cout_}), y(shape{images, cout_, size, size}), yl(shape{images * pixels, cout_}),
      res(shape{images, cout_, size, size}), res_cl(shape{images * pixels, cout_});
  for (auto& v : x.span()) v = u(rng);
  for (auto& v : res.span()) v = u(rng);
  // The same images and residual channels-last: [image, pixel, channel].
  for (int i = 0; i < images; ++i)
    for (std::int64_t p = 0; p < pixels; ++p) {
      for (int c = 0; c < cin; ++c) xl.data()[(i * pixels + p) * cin + c] = x.data()[(i * cin + c) * pixels + p];
      for (int c = 0; c < cout_; ++c)
        res_cl.data()[(i * pixels + p) * cout_ + c] = res.data()[(i * cout_ + c) * pixels + p];
    }
  for (auto& v : w.span()) v = 0.05f * u(rng);
  for (auto& v : b.span()) v = u(rng);
  // The packing the models give such a layer: pixels as rows for one image on a small plane (at
  // most 14 x 14), else the usual lowering's.
  const auto packing =
      images == 1 && pixels <= 196 ? ops::conv2d_packing::pixels_as_rows : ops::conv2d_packing::channels_as_rows;
  const tensor<float> packed = packing == ops::conv2d_packing::pixels_as_rows
                                   ? ops::pack_conv2d_weight<simd, ops::conv2d_packing::pixels_as_rows>(w.cview())
                                   : ops::pack_conv2d_weight<simd, ops::conv2d_packing::channels_as_rows>(w.cview());
  const tensor_view<const float> residual = with_residual ? res.cview() : tensor_view<const float>{};
  const tensor<float> panels = ops::pack_gemm_b<simd>(w.cview().reshape(shape{cout_, cin}), true);
  auto conv = [&] {
    ops::conv2d(ctx, x.cview(), w.cview(), y.view(), {},
                {.bias = b.cview(), .residual = residual, .act = activation::relu6}, {packed.cview(), packing});
  };
  gemm_op g{.m = images * pixels, .n = cout_, .k = cin, .a = xl.data(), .lda = cin, .c = yl.data(), .ldc = cout_};
  g.b = panels.data();
  g.b_panel_width = panels.dim(2);
  g.ep.bias = b.data();
  g.ep.axis = bias_axis::column;
  g.ep.act = activation::relu6;
  if (with_residual) {
    g.ep.residual = res_cl.data();
    g.ep.ldr = cout_;
  }
  auto cl = [&] { kernel<gemm_op, simd>::run(ctx, g); };
  conv();
  cl();
  double worst = 0;
  for (int i = 0; i < images; ++i)
    for (int c = 0; c < cout_; ++c)
      for (std::int64_t p = 0; p < pixels; ++p)
        worst = std::max(
            worst, double(std::abs(y.data()[(i * cout_ + c) * pixels + p] - yl.data()[(i * pixels + p) * cout_ + c])));
  const joule_ab::alternation t = joule_ab::alternate(conv, cl, rounds, 20);
  const double flops = 2.0 * images * pixels * cin * cout_;
  std::printf(
      "threads %d  conv2d (NCHW) %.3f ms (%3.0f GFLOP/s)  channels-last gemm %.3f ms (%3.0f GFLOP/s) ratio %.3f "
      "diff %.1e\n",
      threads, t.first_ms, flops / t.first_ms / 1e6, t.second_ms, flops / t.second_ms / 1e6, t.ratio, worst);
}
