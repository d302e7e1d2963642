// The first layers of ResNet-50 and MobileNetV2 on the simd policy, three ways alternated in one
// process: im2col + the GEMM (detail::conv2d_as_gemm, what ran before the few-channels kernel),
// the direct few-channels kernel (ops::conv2d), and, for ResNet-50, the kernel with the max pool
// after it fused (ops::conv2d_max_pool). Median ms of each over ROUNDS x 15 x 5 calls, the ratios
// to the GEMM's, and the largest difference between the three outputs.
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude bench/ab/stems.cpp \
//       -o build/ab/stems
//   build/ab/stems THREADS IMAGES ROUNDS      # e.g. 2 1 3
#include <joule/joule.hpp>

#include "ab_timing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

using namespace joule;
using joule_ab::median;

namespace {

double max_difference(const tensor<float>& a, const tensor<float>& b) {
  double d = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) d = std::max(d, double(std::abs(a.data()[i] - b.data()[i])));
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const std::int64_t images = argc > 2 ? std::atoll(argv[2]) : 1;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
  context<simd> ctx(threads);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  struct layer {
    const char* name;
    std::int64_t c_out, k, pad;
    bool pool;
  };
  for (const layer l : {layer{"resnet50 stem 7x7/2 + max pool 3x3/2", 64, 7, 3, true},
                        layer{"mobilenet_v2 stem 3x3/2", 32, 3, 1, false}}) {
    tensor<float> x(shape{images, 3, 224, 224}), w(shape{l.c_out, 3, l.k, l.k}), b(shape{l.c_out});
    tensor<float> y(shape{images, l.c_out, 112, 112}), pooled_gemm(shape{images, l.c_out, 56, 56}),
        pooled_direct(shape{images, l.c_out, 56, 56}), pooled_fused(shape{images, l.c_out, 56, 56});
    for (auto& v : x.span()) v = u(rng);
    for (auto& v : w.span()) v = 0.1f * u(rng);
    for (auto& v : b.span()) v = u(rng);
    const ops::conv2d_params conv{.stride_h = 2, .stride_w = 2, .pad_h = l.pad, .pad_w = l.pad};
    const ops::pool2d_params pool{
        .kind = pool_kind::max, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
    conv2d_op op{.n = images,
                 .c_in = 3,
                 .h = 224,
                 .w = 224,
                 .c_out = l.c_out,
                 .kh = l.k,
                 .kw = l.k,
                 .stride_h = 2,
                 .stride_w = 2,
                 .pad_h = l.pad,
                 .pad_w = l.pad,
                 .out_h = 112,
                 .out_w = 112,
                 .input = x.data(),
                 .weight = w.data(),
                 .output = y.data(),
                 .ep = {}};
    op.ep.bias = b.data();
    op.ep.act = activation::relu;
    op.ep.axis = bias_axis::row;
    auto gemm = [&] {
      detail::conv2d_as_gemm<simd>(ctx, op);
      if (l.pool) ops::pool2d(ctx, y.cview(), pooled_gemm.view(), pool);
    };
    auto direct = [&] {
      ops::conv2d(ctx, x.cview(), w.cview(), y.view(), conv, {.bias = b.cview(), .act = activation::relu});
      if (l.pool) ops::pool2d(ctx, y.cview(), pooled_direct.view(), pool);
    };
    auto fused = [&] {
      ops::conv2d_max_pool(ctx, x.cview(), w.cview(), pooled_fused.view(), conv,
                           {.bias = b.cview(), .act = activation::relu}, pool);
    };
    tensor<float> y_gemm(y.shape());
    gemm();
    std::copy(y.data(), y.data() + y.numel(), y_gemm.data());
    direct();
    std::printf("%s, %lld image(s), %d thread(s): direct - GEMM max |difference| %g", l.name,
                static_cast<long long>(images), threads, max_difference(y, y_gemm));
    if (l.pool) {
      fused();
      std::printf(", fused - GEMM (pooled) %g", max_difference(pooled_fused, pooled_gemm));
    }
    std::printf("\n");
    for (int round = 0; round < rounds; ++round) {
      std::vector<double> tg, td, tf;
      for (int r = 0; r < 15; ++r) {
        tg.push_back(joule_ab::time_ms(gemm, 5));
        td.push_back(joule_ab::time_ms(direct, 5));
        if (l.pool) tf.push_back(joule_ab::time_ms(fused, 5));
      }
      std::printf("  GEMM %.3f ms, direct %.3f ms (%.2f)", median(tg), median(td), median(td) / median(tg));
      if (l.pool) std::printf(", fused %.3f ms (%.2f)", median(tf), median(tf) / median(tg));
      std::printf("\n");
    }
  }
}
