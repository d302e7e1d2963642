// A 14 x 14 1x1 layer as joule runs it at batch 1 (ops::conv2d: NCHW, the pixels as the GEMM's
// rows, A read transposed, each finished tile turned around into NCHW by pixel_rows_sink) against
// the same packed weight through kernel<gemm_op, simd> with the input or the output channels-last
// (rows of C_IN + PAD and C_OUT + PAD floats), alternated in one process, 41 rounds of 5 calls,
// medians and their ratio:
//
//   LAYOUT 0  channels-last in and out (A as rows in place; bias, residual, ReLU in the GEMM's epilogue)
//   LAYOUT 1  channels-last in, NCHW out through pixel_rows_sink (a block's conv1, Winograd after it)
//   LAYOUT 2  NCHW in (A transposed), channels-last out (a block's conv3, Winograd before it)
//
// REWRITE 1 rewrites the input before each call, each thread its share of the channels, as the
// layer before leaves it at two threads. Build also with -DJOULE_GEMM_ROWS=6
// -DJOULE_GEMM_PANEL_VECTORS=4 for a 6 x 64 register tile (docs/results.md, 2026-12-07 evening).
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude \
//       bench/ab/pixel_rows_layouts.cpp -o build/ab/pixel_rows_layouts -lpthread
//   [THREADS=n] build/ab/pixel_rows_layouts LAYOUT C_IN C_OUT [REWRITE] [RESIDUAL] [PAD]
//   build/ab/pixel_rows_layouts 1 1024 256 1       # stage 3's conv1
//   build/ab/pixel_rows_layouts 2 256 1024 1 1     # stage 3's conv3
#include <joule/joule.hpp>

#include "ab_timing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
using namespace joule;
int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s LAYOUT C_IN C_OUT [REWRITE] [RESIDUAL] [PAD]\n", argv[0]);
    return 2;
  }
  const int layout = std::atoi(argv[1]), cin = std::atoi(argv[2]), cout_ = std::atoi(argv[3]);
  const bool rewrite = argc > 4 && std::atoi(argv[4]) != 0, with_residual = argc > 5 && std::atoi(argv[5]) != 0;
  const int pad = argc > 6 ? std::atoi(argv[6]) : 16;
  context<simd> ctx(std::getenv("THREADS") ? std::atoi(std::getenv("THREADS")) : 2);
  constexpr int kSize = 14, kPixels = kSize * kSize;
  const int ld_in = cin + pad, ld_out = cout_ + pad;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  tensor<float> x(shape{1, cin, kSize, kSize}), w(shape{cout_, cin, 1, 1}), bias(shape{cout_}),
      y(shape{1, cout_, kSize, kSize}), residual(shape{1, cout_, kSize, kSize});
  for (auto& v : x.span()) v = u(rng);
  for (auto& v : w.span()) v = 0.05f * u(rng);
  for (auto& v : bias.span()) v = u(rng) - 0.5f;
  for (auto& v : residual.span()) v = u(rng);
  // The channels-last copies: pixel p's channels at p * ld.
  std::vector<float> x_last(std::size_t(kPixels) * ld_in), y_last(std::size_t(kPixels) * ld_out),
      residual_last(std::size_t(kPixels) * ld_out), y_nchw(y.numel());
  for (int c = 0; c < cin; ++c)
    for (int p = 0; p < kPixels; ++p) x_last[std::size_t(p) * ld_in + c] = x.data()[c * kPixels + p];
  for (int c = 0; c < cout_; ++c)
    for (int p = 0; p < kPixels; ++p) residual_last[std::size_t(p) * ld_out + c] = residual.data()[c * kPixels + p];
  const auto packed = ops::pack_conv2d_weight<simd, ops::conv2d_packing::pixels_as_rows>(w.cview());
  const ops::conv2d_epilogue args{.bias = bias.cview(),
                                  .residual = with_residual ? residual.cview() : tensor_view<const float>{},
                                  .act = activation::relu};
  auto as_joule_runs_it = [&] {
    ops::conv2d(ctx, x.cview(), w.cview(), y.view(), ops::conv2d_params{}, args,
                {packed.cview(), ops::conv2d_packing::pixels_as_rows});
  };
  // LAYOUT 1's sink: the NCHW output as pixel_rows_sink writes it for ops::conv2d.
  conv2d_op sink_op{};
  sink_op.n = 1, sink_op.c_in = cin, sink_op.h = sink_op.w = kSize, sink_op.c_out = cout_;
  sink_op.kh = sink_op.kw = 1, sink_op.out_h = sink_op.out_w = kSize;
  sink_op.ep = {.bias = bias.data(), .axis = bias_axis::row, .act = activation::relu};
  const simd_detail::pixel_rows_output target{&sink_op, with_residual ? residual.data() : nullptr, y_nchw.data()};
  std::vector<float> partial_sums(std::size_t(kPixels) * simd_detail::pixel_rows_stride(cout_));
  auto other_layout = [&] {
    gemm_op op{.m = kPixels, .n = cout_, .k = cin, .b = packed.data(), .ldb = 0, .trans_b = false, .alpha = 1.f};
    op.b_panel_width = simd_detail::gemm_blocking::kPanel;
    op.a = layout == 2 ? x.data() : x_last.data();
    op.lda = layout == 2 ? kPixels : ld_in;
    op.trans_a = layout == 2;
    if (layout == 1) {
      op.c = partial_sums.data();
      op.ldc = simd_detail::pixel_rows_stride(cout_);
      op.tile_sink = &simd_detail::pixel_rows_sink;
      op.sink_target = &target;
    } else {
      op.c = y_last.data();
      op.ldc = ld_out;
      op.ep = {.bias = bias.data(),
               .axis = bias_axis::column,
               .residual = with_residual ? residual_last.data() : nullptr,
               .ldr = ld_out,
               .act = activation::relu};
    }
    kernel<gemm_op, simd>::run(ctx, op);
  };
  as_joule_runs_it();
  other_layout();
  double diff = 0;
  for (int c = 0; c < cout_; ++c)
    for (int p = 0; p < kPixels; ++p) {
      const float other = layout == 1 ? y_nchw[c * kPixels + p] : y_last[std::size_t(p) * ld_out + c];
      diff = std::max(diff, double(std::abs(other - y.data()[c * kPixels + p])));
    }
  // The input as the layer before leaves it: each thread wrote its share of the channels. (v + 0 · v
  // is v, but the compiler must compute it; v *= 1 it drops, stores and all.)
  const auto touch = [](float& v) { v += 0.f * v; };
  auto rewrite_input = [&](bool channels_last) {
    ctx.parallel_for(cin, 1, [&](std::int64_t c0, std::int64_t c1) {
      if (!channels_last)
        for (std::int64_t j = c0 * kPixels; j < c1 * kPixels; ++j) touch(x.data()[j]);
      else
        for (int p = 0; p < kPixels; ++p)
          for (std::int64_t c = c0; c < c1; ++c) touch(x_last[std::size_t(p) * ld_in + c]);
    });
  };
  std::vector<double> joule_ms, other_ms, ratio;
  for (int round = 0; round < 41; ++round) {
    double ms[2] = {0, 0};
    for (int side = 0; side < 2; ++side)
      for (int i = 0; i < 5; ++i) {
        if (rewrite) rewrite_input(side == 1 && layout != 2);
        ms[side] += side == 0 ? joule_ab::time_ms(as_joule_runs_it, 1) : joule_ab::time_ms(other_layout, 1);
      }
    joule_ms.push_back(ms[0] / 5);
    other_ms.push_back(ms[1] / 5);
    ratio.push_back(ms[1] / ms[0]);
  }
  std::printf(
      "layout %d, %d -> %d on 14 x 14, %d threads%s%s: as joule runs it %.3f ms, other layout %.3f ms, "
      "ratio %.3f (max difference %.1e)\n",
      layout, cin, cout_, ctx.threads(), rewrite ? ", input rewritten" : "", with_residual ? ", residual" : "",
      joule_ab::median(joule_ms), joule_ab::median(other_ms), joule_ab::median(ratio), diff);
}
