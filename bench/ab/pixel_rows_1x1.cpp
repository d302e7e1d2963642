// How much a 1x1 convolution would gain with its output kept channels-last: ResNet-50's 1x1
// layers, one image a call, as joule runs them now (ops::conv2d, the weight packed with the
// channels as rows: the input packed per call into panels) against the simd GEMM with the pixels
// as rows reading the input in place (gemm_op::trans_a) and the weight packed ahead, writing the
// output [pixels, c_out] with the bias and ReLU: no packing per call and no transpose pass, as a
// network kept channels-last (or blocked NCHW16c) would run it. Alternated in rounds, median ms
// of each and the median of the per-round ratios gemm / conv2d.
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude \
//       bench/ab/pixel_rows_1x1.cpp -o build/ab/pixel_rows_1x1
//   build/ab/pixel_rows_1x1 [ROUNDS]
#include <joule/joule.hpp>

#include "ab_timing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
using namespace joule;

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 15;
  context<simd> ctx(2);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  struct L {
    const char* name;
    int cin, cout, size;
  };
  const L layers[] = {{"56x56 256>64", 256, 64, 56},     {"56x56 64>256", 64, 256, 56},
                      {"28x28 512>128", 512, 128, 28},   {"28x28 128>512", 128, 512, 28},
                      {"14x14 1024>256", 1024, 256, 14}, {"14x14 256>1024", 256, 1024, 14}};
  for (const L& l : layers) {
    const std::int64_t pixels = std::int64_t{l.size} * l.size;
    tensor<float> x(shape{1, l.cin, l.size, l.size}), w(shape{l.cout, l.cin, 1, 1}), b(shape{l.cout}),
        y(shape{1, l.cout, l.size, l.size}), y_last(shape{pixels, l.cout});
    for (auto& v : x.span()) v = u(rng);
    for (auto& v : w.span()) v = 0.05f * u(rng);
    for (auto& v : b.span()) v = u(rng);
    const tensor<float> packed_rows = ops::pack_conv2d_weight<simd, ops::conv2d_packing::channels_as_rows>(w.cview());
    // W [c_out, c_in] is B transposed for output[pixels, c_out] = input^T [pixels, c_in] · W^T.
    const tensor<float> panels = ops::pack_gemm_b<simd>(w.cview().reshape(shape{l.cout, l.cin}), true);
    auto conv = [&] {
      ops::conv2d(ctx, x.cview(), w.cview(), y.view(), {}, {.bias = b.cview(), .act = activation::relu},
                  {packed_rows.cview(), ops::conv2d_packing::channels_as_rows});
    };
    gemm_op g{.m = pixels, .n = l.cout, .k = l.cin, .a = x.data(), .lda = pixels, .c = y_last.data(), .ldc = l.cout};
    g.b = panels.data();
    g.b_panel_width = panels.dim(2);
    g.trans_a = true;
    g.ep.bias = b.data();
    g.ep.axis = bias_axis::column;
    g.ep.act = activation::relu;
    auto channels_last = [&] { kernel<gemm_op, simd>::run(ctx, g); };
    conv();
    channels_last();
    // The same products: output[c][p] against output_last[p][c].
    double worst = 0;
    for (std::int64_t c = 0; c < l.cout; ++c)
      for (std::int64_t p = 0; p < pixels; ++p)
        worst = std::max(worst, double(std::abs(y.data()[c * pixels + p] - y_last.data()[p * l.cout + c])));
    const int reps = std::max<std::int64_t>(1, 20000000 / (pixels * l.cin * l.cout / 16));
    const joule_ab::alternation t = joule_ab::alternate(conv, channels_last, rounds, reps);
    const double flops = 2.0 * pixels * l.cin * l.cout;
    std::printf(
        "%-16s conv2d %.3f ms (%3.0f GFLOP/s)  channels-last gemm %.3f ms (%3.0f GFLOP/s)  ratio %.3f  max diff %.1e\n",
        l.name, t.first_ms, flops / t.first_ms / 1e6, t.second_ms, flops / t.second_ms / 1e6, t.ratio, worst);
  }
}
