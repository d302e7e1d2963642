// Winograd F(2x2, 3x3) and F(4x4, 3x3) against the usual lowering on the simd policy, on shapes
// whose planes are no multiple of the tiles (and ResNet-50's 64-channel 56 x 56 layer), with bias
// and residual: prints the largest difference, scaled by the largest output, for each. Builds for
// any instruction set, to compare AVX-512, AVX2 and SSE paths.
//
//   c++ -std=gnu++20 -O2 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude \
//       bench/ab/winograd_accuracy.cpp -o build/ab/winograd_accuracy    # or -mavx2 -mfma, -msse4.2
//   build/ab/winograd_accuracy
#include <joule/joule.hpp>
#include <random>
#include <cstdio>
#include <cmath>
int main() {
  using namespace joule;
  using ops::conv2d_packing;
  context<simd> ctx(2);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  struct S {
    int n, c, k, h, w;
  };
  double worst[2] = {0, 0};
  for (S s : {S{1, 8, 5, 1, 1}, S{2, 16, 13, 5, 9}, S{1, 24, 16, 10, 70}, S{1, 64, 64, 56, 56}, S{3, 32, 37, 7, 7},
              S{1, 7, 12, 13, 130}}) {
    tensor<float> x(shape{s.n, s.c, s.h, s.w}), w(shape{s.k, s.c, 3, 3}), b(shape{s.k}), r(shape{s.n, s.k, s.h, s.w}),
        y0(r.shape()), y(r.shape());
    for (auto& v : x.span()) v = u(rng);
    for (auto& v : w.span()) v = u(rng);
    for (auto& v : b.span()) v = u(rng);
    for (auto& v : r.span()) v = u(rng);
    const ops::conv2d_params p{.pad_h = 1, .pad_w = 1};
    ops::conv2d(ctx, x.cview(), w.cview(), y0.view(), p, {.bias = b.cview(), .residual = r.cview()});
    double scale = 0;
    for (float v : y0.span()) scale = std::max(scale, (double)std::abs(v));
    for (int t = 0; t < 2; ++t) {
      const auto pk = t ? ops::pack_conv2d_weight<simd, conv2d_packing::winograd_4x4_3x3>(w.cview())
                        : ops::pack_conv2d_weight<simd, conv2d_packing::winograd_3x3>(w.cview());
      ops::conv2d(ctx, x.cview(), w.cview(), y.view(), p, {.bias = b.cview(), .residual = r.cview()},
                  {pk.cview(), t ? conv2d_packing::winograd_4x4_3x3 : conv2d_packing::winograd_3x3});
      for (std::int64_t i = 0; i < y.numel(); ++i)
        worst[t] = std::max(worst[t], std::abs((double)y.data()[i] - y0.data()[i]) / scale);
    }
  }
  std::printf("kLanes %d: worst scaled difference F(2x2) %.2e, F(4x4) %.2e\n", (int)simd_detail::kLanes, worst[0],
              worst[1]);
}
