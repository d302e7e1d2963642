// ResNet-50's 1x1 stride-1 layers on small planes, two ways in one process: the pixels-as-rows GEMM
// (simd_detail::conv2d_pixel_rows, 12 x 32 tile) against the dedicated pointwise kernel
// (simd_detail::conv2d_pointwise, 6 x 64 tile over the whole depth), with the same packed weight,
// bias, ReLU and, for the C_IN < C_OUT layers, a residual. Checks that both give the same output,
// then alternates them in rounds of 20 calls and prints the medians and the median per-round ratio
// pointwise / pixel rows. COLD 1 rewrites the input before each call, each thread a share of its
// channels, as the layer before leaves it in the model; COLD 2 also flushes the packed weight from
// every cache level (clflush); COLD 3 instead has each thread read 4 MB of its own first (the
// weight leaves the L2s but stays in L3, as in a model at batch 1). The preparation is not timed.
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude -Ibench/ab \
//       bench/ab/pointwise_1x1.cpp -o build/ab/pointwise_1x1 -lpthread
//   build/ab/pointwise_1x1 [THREADS] [ROUNDS] [COLD]
#include <joule/joule.hpp>
#include <joule/policy/simd/conv2d_pointwise.hpp>

#include "ab_timing.hpp"

#include <immintrin.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
using namespace joule;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2, rounds = argc > 2 ? std::atoi(argv[2]) : 15;
  const int cold = argc > 3 ? std::atoi(argv[3]) : 0;
  context<simd> ctx(threads);
  std::vector<float> junk[2] = {std::vector<float>(cold == 3 ? 1 << 20 : 0),
                                std::vector<float>(cold == 3 ? 1 << 20 : 0)};
  struct layer {
    int c_in, c_out, size;
  };
  const std::vector<layer> layers = {{1024, 256, 14}, {256, 1024, 14}, {1024, 512, 14},
                                     {2048, 512, 7},  {512, 2048, 7},  {512, 256, 14}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (const layer& l : layers) {
    const std::int64_t pixels = std::int64_t{l.size} * l.size;
    tensor<float> x(shape{1, l.c_in, l.size, l.size}), w(shape{l.c_out, l.c_in, 1, 1}), b(shape{l.c_out}),
        r(shape{1, l.c_out, l.size, l.size}), y0(r.shape()), y1(r.shape());
    for (auto* t : {&x, &w, &b, &r})
      for (auto& v : t->span()) v = u(rng);
    const tensor<float> packed = ops::pack_conv2d_weight<simd, ops::conv2d_packing::pixels_as_rows>(w.cview());
    conv2d_op op{.n = 1, .c_in = l.c_in, .h = l.size, .w = l.size, .c_out = l.c_out, .kh = 1, .kw = 1};
    op.out_h = op.out_w = l.size;
    op.input = x.data();
    op.weight = w.data();
    op.ep = {.bias = b.data(), .residual = l.c_in < l.c_out ? r.data() : nullptr, .act = activation::relu};
    op.packed_weight = packed.data();
    if (!simd_detail::pointwise_applies(op)) {
      std::printf("%4d -> %4d on %2d x %2d: pointwise kernel does not apply\n", l.c_in, l.c_out, l.size, l.size);
      continue;
    }
    conv2d_op op0 = op, op1 = op;
    op0.output = y0.data();
    op1.output = y1.data();
    simd_detail::conv2d_pixel_rows(ctx, op0);
    simd_detail::conv2d_pointwise(ctx, op1);
    double worst = 0;
    for (std::int64_t i = 0; i < y0.numel(); ++i)
      worst = std::max(worst, double(std::abs(y0.data()[i] - y1.data()[i])) / (1.0 + std::abs(y0.data()[i])));
    const auto prepare = [&] {
      if (cold == 0) return;
      if (cold == 3)
        ctx.parallel_for(2, 1, [&](std::int64_t t0, std::int64_t t1) {
          for (std::int64_t t = t0; t < t1; ++t)
            for (std::size_t j = 0; j < junk[t].size(); j += 16) junk[t][j] += 1.f;
        });
      if (cold == 2) {
        for (std::int64_t j = 0; j < packed.numel(); j += 16) _mm_clflush(packed.data() + j);
        _mm_mfence();
      }
      ctx.parallel_for(l.c_in, 1, [&](std::int64_t c0, std::int64_t c1) {
        for (std::int64_t j = c0 * pixels; j < c1 * pixels; ++j) x.data()[j] += 0.f * y0.data()[0];
      });
    };
    const auto timed = [&](auto run) {
      double ms = 0;
      for (int i = 0; i < 20; ++i) {
        prepare();
        const auto start = std::chrono::steady_clock::now();
        run();
        ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      }
      return ms / 20;
    };
    std::vector<double> first, second, ratio;
    for (int round = 0; round < rounds; ++round) {
      first.push_back(timed([&] { simd_detail::conv2d_pixel_rows(ctx, op0); }));
      second.push_back(timed([&] { simd_detail::conv2d_pointwise(ctx, op1); }));
      ratio.push_back(second.back() / first.back());
    }
    std::printf("%4d -> %4d on %2d x %2d%s: pixel rows %.3f ms, pointwise %.3f ms, ratio %.3f (worst rel. diff %.1e)\n",
                l.c_in, l.c_out, l.size, l.size, op.ep.residual ? " +res" : "     ", joule_ab::median(first),
                joule_ab::median(second), joule_ab::median(ratio), worst);
  }
}
