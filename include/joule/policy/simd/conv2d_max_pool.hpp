#pragma once
/**
 * @file conv2d_max_pool.hpp
 * @brief simd conv2d_max_pool: a first layer of few input channels (conv2d_few_channels.hpp) with
 * the max pool after it done on its rows while they are in cache; any other layer as conv2d, then
 * pool2d, through scratch.
 *
 * ResNet-50's stem writes 3.2 MB an image (64 x 112 x 112), more than a core's L2 holds beside its
 * input, and the pool after it read that back from L3 (0.14-0.20 ms in the model at batch 1, ONNX
 * Runtime's 0.09). Here each thread keeps the last pool.kh rows of the convolution's output
 * channels-last in a ring of row buffers, pools each output row from them (every window's maximum
 * over kh rows x kw columns of whole vectors of channels) and turns the pooled row around into
 * NCHW: the convolution's output never leaves the core.
 */
#include <algorithm>
#include <cstdint>
#include <limits>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/conv2d_max_pool.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/conv2d.hpp>
#include <joule/policy/simd/conv2d_few_channels.hpp>
#include <joule/policy/simd/max_pool_3x3_stride2.hpp>
#include <joule/policy/simd/pool2d.hpp>

namespace joule {

template <>
inline constexpr bool conv2d_fuses_max_pool<simd> = true;

namespace simd_detail {

/**
 * @brief act(x + bias) over one channels-last row of @p pixels x one block of channels, in place
 * (@p bias: the block's, or null).
 */
template <int Vectors>
void bias_activate_row(float* row, std::int64_t pixels, const float* bias, activation act) noexcept {
  constexpr std::int64_t kBlock = kFewChannelsBlock<Vectors>;
  if (bias == nullptr && act == activation::none) return;
  batch b[Vectors];
#pragma GCC unroll 4
  for (int v = 0; v < Vectors; ++v) b[v] = bias != nullptr ? batch::load_unaligned(bias + v * kLanes) : batch(0.f);
  for (std::int64_t x = 0; x < pixels; ++x)
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) {
      float* p = row + x * kBlock + v * kLanes;
      activate(act, batch::load_aligned(p) + b[v]).store_aligned(p);
    }
}

/**
 * @brief Pooled output row @p py of one block of output channels, channels-last into @p pooled
 * ([pool.out_w][block]), from the ring of convolution rows (row y in slot y % pool.kh).
 */
template <int Vectors>
void max_pool_ring_row(const pool2d_op& pool, const float* ring, std::int64_t conv_w, std::int64_t py,
                       float* pooled) noexcept {
  constexpr std::int64_t kBlock = kFewChannelsBlock<Vectors>;
  const std::int64_t y0 = py * pool.stride_h - pool.pad_h;
  const std::int64_t y_lo = std::max<std::int64_t>(y0, 0), y_hi = std::min(y0 + pool.kh, pool.h);
  for (std::int64_t px = 0; px < pool.out_w; ++px) {
    const std::int64_t x0 = px * pool.stride_w - pool.pad_w;
    const std::int64_t x_lo = std::max<std::int64_t>(x0, 0), x_hi = std::min(x0 + pool.kw, conv_w);
    batch m[Vectors];
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) m[v] = batch(-std::numeric_limits<float>::infinity());
    for (std::int64_t y = y_lo; y < y_hi; ++y) {
      const float* row = ring + y % pool.kh * conv_w * kBlock;
      for (std::int64_t x = x_lo; x < x_hi; ++x)
#pragma GCC unroll 4
        for (int v = 0; v < Vectors; ++v) m[v] = nan_max(m[v], batch::load_aligned(row + x * kBlock + v * kLanes));
    }
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) m[v].store_aligned(pooled + px * kBlock + v * kLanes);
  }
}

/**
 * @brief conv2d_max_pool_op for a convolution few_channels_apply takes: the pooled output rows of
 * every image split between the threads; each thread pads the input rows its convolution rows read,
 * then per block of output channels computes each convolution row once, into the ring, as the
 * pooled rows come to need it, adds the bias and applies the activation there, and pools.
 */
template <int Pixels, int Vectors>
void few_channels_max_pool(cpu_context& ctx, const conv2d_max_pool_op& fused) {
  constexpr std::int64_t kBlock = kFewChannelsBlock<Vectors>;
  const conv2d_op& op = fused.conv;
  const pool2d_op& pool = fused.pool;
  const std::int64_t depth = op.c_in * op.kh * op.kw, rows = op.n * pool.out_h;
  const std::int64_t pitch = few_channels_pitch(op);
  const int threads = detail::threads_for(ctx, rows, op.n * op.out_h * op.out_w * op.c_out * depth);
  scratch_frame frame(ctx);
  const float* weight = few_channels_weight<Vectors>(op, frame);
  const std::int64_t ring_floats = pool.kh * op.out_w * kBlock, pooled_floats = pool.out_w * kBlock;
  // The pooled rows go out through transpose_block, as a convolution with no epilogue would.
  conv2d_op pooled_out{};
  pooled_out.out_h = pool.out_h;
  pooled_out.out_w = pool.out_w;
  detail::parallel_ranges(ctx, threads, rows, [&](int, std::int64_t r0, std::int64_t r1) {
    // The thread's longest run of pooled rows in one image (its range is sized by its speed:
    // thread_pool::run_shares), the convolution rows they read (at most), and the input rows those read.
    const std::int64_t run_max = std::min(pool.out_h, r1 - r0);
    const std::int64_t conv_rows_max = std::min(op.out_h, (run_max - 1) * pool.stride_h + pool.kh);
    const std::int64_t band_rows_max = few_channels_band_rows(op, conv_rows_max);
    scratch_frame own(ctx.thread_scratch());
    float* band = own.take<float>(op.c_in * band_rows_max * pitch);
    float* ring = own.take<float>(ring_floats + pooled_floats);
    float* pooled = ring + ring_floats;
    for (std::int64_t r = r0; r < r1;) {  // one image's run of pooled rows at a time
      const std::int64_t image = r / pool.out_h, py0 = r % pool.out_h, py1 = std::min(pool.out_h, py0 + (r1 - r));
      // Convolution rows [cy0, cy1) hold every window of pooled rows [py0, py1).
      const std::int64_t cy0 = std::max<std::int64_t>(0, py0 * pool.stride_h - pool.pad_h);
      const std::int64_t cy1 = std::min(op.out_h, (py1 - 1) * pool.stride_h - pool.pad_h + pool.kh);
      const std::int64_t band_rows = few_channels_band_rows(op, cy1 - cy0);
      pad_input_rows(op, op.input + image * op.c_in * op.h * op.w, cy0 * op.stride_h - op.pad_h, band_rows, pitch,
                     band);
      std::int64_t taps[kFewChannelsMaxDepth];
      const few_channels_plan plan = plan_few_channels(op, band_rows, pitch, weight, taps);
      float* out = pool.output + image * op.c_out * pool.out_h * pool.out_w;
      for (std::int64_t c0 = 0; c0 < op.c_out; c0 += kBlock) {
        const float* bias = op.ep.bias ? op.ep.bias + c0 : nullptr;
        std::int64_t next = cy0;  // the next convolution row to compute
        for (std::int64_t py = py0; py < py1; ++py) {
          const std::int64_t y0 = py * pool.stride_h - pool.pad_h;
          const std::int64_t y_hi = std::min(y0 + pool.kh, op.out_h);
          for (next = std::max(next, y0); next < y_hi; ++next) {
            float* row = ring + next % pool.kh * op.out_w * kBlock;
            few_channels_row<Pixels, Vectors>(plan, band + (next - cy0) * plan.row_step, weight + c0 * depth, row);
            bias_activate_row<Vectors>(row, op.out_w, bias, op.ep.act);
          }
          max_pool_ring_row<Vectors>(pool, ring, op.out_w, py, pooled);
          for (std::int64_t x = 0; x < pool.out_w; x += kLanes)
            for (std::int64_t c = 0; c < kBlock; c += kLanes)
              transpose_block(pooled_out, pooled + x * kBlock + c, kBlock, c0 + c, kLanes, py * pool.out_w + x,
                              std::min(kLanes, pool.out_w - x), nullptr, out);
        }
      }
      r += py1 - py0;
    }
  });
}

}  // namespace simd_detail

template <>
struct kernel<conv2d_max_pool_op, simd> {
  static void run(cpu_context& ctx, const conv2d_max_pool_op& op) {
    if (simd_detail::few_channels_apply(op.conv))
      return simd_detail::with_few_channels_tile(op.conv.c_out, [&]<int Pixels, int Vectors>() {
        simd_detail::few_channels_max_pool<Pixels, Vectors>(ctx, op);
      });
    // Any other convolution: its output in scratch, then pooled.
    scratch_frame frame(ctx);
    conv2d_op conv = op.conv;
    conv.output = frame.take<float>(conv.n * conv.c_out * conv.out_h * conv.out_w);
    kernel<conv2d_op, simd>::run(ctx, conv);
    pool2d_op pool = op.pool;
    pool.input = conv.output;
    kernel<pool2d_op, simd>::run(ctx, pool);
  }
};

}  // namespace joule
