#pragma once
/**
 * @file conv2d_few_channels.hpp
 * @brief simd conv2d for a network's first layer, which reads an image's few channels (ResNet-50's
 * 7x7 stride-2 stem, MobileNetV2's 3x3 stride-2 one): a direct convolution with the output
 * channels in the vector lanes and no im2col.
 *
 * Lowered to a GEMM, such a layer multiplies a weight of a few dozen output channels by a columns
 * matrix of c_in · kh · kw rows (147 for ResNet-50's stem), one column per output pixel: every
 * column is made (a strided gather) and packed for as few multiply-adds as there are output
 * channels, and 64 output channels fill 12-row register tiles badly (5 of 12 and one of 4). Here a
 * register tile holds Pixels output pixels of one row x Vectors vectors of output channels; each
 * step of the depth loads the Vectors weight vectors of one tap (c, ky, kx) and broadcasts the
 * Pixels input values that tap reads, straight from a padded copy of the input rows: no columns,
 * no packing. The tile is stored channels-last into a row buffer, which is then turned around into
 * the NCHW output with the bias, residual and activation (transpose_block).
 */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/conv2d_pixel_rows.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule::simd_detail {

/** @brief Output channels a block of the register tile covers: Vectors vectors of kLanes. */
template <int Vectors>
inline constexpr std::int64_t kFewChannelsBlock = kLanes* Vectors;

/** @brief Most taps (c_in · kh · kw) the kernel takes: its tap offsets live on the stack. */
inline constexpr std::int64_t kFewChannelsMaxDepth = 256;

/**
 * @brief Whether the few-channels kernel applies: one group, at most 4 input channels, a depth
 * (c_in · kh · kw) of at most kFewChannelsMaxDepth taps, output channels in whole blocks of two
 * vectors, and output rows at least a tile wide (the last tile of a row overlaps the one before it).
 */
inline bool few_channels_apply(const conv2d_op& op) noexcept {
  return op.groups == 1 && op.c_in <= 4 && op.c_in * op.kh * op.kw <= kFewChannelsMaxDepth &&
         op.c_out % (2 * kLanes) == 0 && op.out_w >= 16;
}

/** @brief The geometry every tile of one call shares. */
struct few_channels_plan {
  const conv2d_op* op;
  std::int64_t depth;        ///< c_in · kh · kw taps
  const std::int64_t* taps;  ///< [depth]: tap (c, ky, kx)'s offset in a padded band from its output row's origin
  std::int64_t pitch;        ///< floats from one padded input row to the next
  std::int64_t row_step;     ///< floats from one output row's origin to the next's: stride_h · pitch
  const float* weight;       ///< [c_out / block][depth][block]: each tap's output channels contiguous
};

/**
 * @brief Output pixels [ox, ox + Pixels) of the output row whose padded input starts at @p origin,
 * one block of output channels (@p weight: its taps): each tap, Vectors weight loads and Pixels
 * broadcasts for Pixels · Vectors FMAs. The tile goes to @p tile ([pixel][block], channels-last),
 * as summed: the epilogue comes after (an activation's call in here made GCC keep the accumulators
 * in memory: MobileNetV2's stem 1.25x the time).
 */
template <int Pixels, int Vectors>
[[gnu::always_inline]] inline void few_channels_tile(const few_channels_plan& p, const float* origin,
                                                     const float* weight, std::int64_t ox, float* tile) noexcept {
  const std::int64_t sw = p.op->stride_w;
  const float* x = origin + ox * sw;
  batch acc[Pixels][Vectors];
#pragma GCC unroll 16
  for (int j = 0; j < Pixels; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) acc[j][v] = batch(0.f);
  for (std::int64_t t = 0; t < p.depth; ++t, weight += kFewChannelsBlock<Vectors>) {
    const float* tap = x + p.taps[t];
    batch w[Vectors];
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) w[v] = batch::load_aligned(weight + v * kLanes);
#pragma GCC unroll 16
    for (int j = 0; j < Pixels; ++j) {
      const batch in(tap[j * sw]);
#pragma GCC unroll 4
      for (int v = 0; v < Vectors; ++v) acc[j][v] = xsimd::fma(w[v], in, acc[j][v]);
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < Pixels; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) acc[j][v].store_aligned(tile + j * kFewChannelsBlock<Vectors> + v * kLanes);
}

/**
 * @brief One output row of one block of output channels (@p weight: its taps), channels-last into
 * @p row ([out_w][block]): whole tiles, then one that ends at the row's end, overlapping the one
 * before it.
 */
template <int Pixels, int Vectors>
void few_channels_row(const few_channels_plan& p, const float* origin, const float* weight, float* row) noexcept {
  constexpr std::int64_t kBlock = kFewChannelsBlock<Vectors>;
  const std::int64_t out_w = p.op->out_w;
  std::int64_t ox = 0;
  for (; ox + Pixels <= out_w; ox += Pixels)
    few_channels_tile<Pixels, Vectors>(p, origin, weight, ox, row + ox * kBlock);
  if (ox < out_w)
    few_channels_tile<Pixels, Vectors>(p, origin, weight, out_w - Pixels, row + (out_w - Pixels) * kBlock);
}

/**
 * @brief Output rows [oy0, oy1) of one image, whose padded input rows start at @p band (row oy0's
 * origin): each row, block by block of output channels, its tiles into @p row_buffer, then turned
 * around into the output.
 */
template <int Pixels, int Vectors>
void few_channels_rows(const few_channels_plan& p, const float* band, std::int64_t oy0, std::int64_t oy1,
                       const float* residual, float* out, float* row_buffer) {
  const conv2d_op& op = *p.op;
  constexpr std::int64_t kBlock = kFewChannelsBlock<Vectors>;
  for (std::int64_t oy = oy0; oy < oy1; ++oy) {
    const float* origin = band + (oy - oy0) * p.row_step;
    for (std::int64_t c0 = 0; c0 < op.c_out; c0 += kBlock) {
      // The epilogue as the row is turned around: the bias is one value per channel there.
      few_channels_row<Pixels, Vectors>(p, origin, p.weight + c0 * p.depth, row_buffer);
      for (std::int64_t x = 0; x < op.out_w; x += kLanes)
        for (std::int64_t c = 0; c < kBlock; c += kLanes)
          transpose_block(op, row_buffer + x * kBlock + c, kBlock, c0 + c, kLanes, oy * op.out_w + x,
                          std::min(kLanes, op.out_w - x), residual, out);
    }
  }
}

/**
 * @brief The weight [c_out, depth] turned to [c_out / block][depth][block], each tap's block of
 * output channels one contiguous run, in scratch from @p frame.
 */
template <int Vectors>
const float* few_channels_weight(const conv2d_op& op, scratch_frame& frame) {
  constexpr std::int64_t kBlock = kFewChannelsBlock<Vectors>;
  const std::int64_t depth = op.c_in * op.kh * op.kw;
  float* weight = frame.take<float>(op.c_out * depth);
  for (std::int64_t c = 0; c < op.c_out; ++c)
    for (std::int64_t t = 0; t < depth; ++t)
      weight[(c / kBlock * depth + t) * kBlock + c % kBlock] = op.weight[c * depth + t];
  return weight;
}

/**
 * @brief The plan over a band of @p band_rows padded input rows @p pitch floats wide, its tap
 * offsets (from an output row's origin: band row 0, column 0) written to @p taps.
 */
inline few_channels_plan plan_few_channels(const conv2d_op& op, std::int64_t band_rows, std::int64_t pitch,
                                           const float* weight, std::int64_t* taps) noexcept {
  for (std::int64_t c = 0, i = 0; c < op.c_in; ++c)
    for (std::int64_t ky = 0; ky < op.kh; ++ky)
      for (std::int64_t kx = 0; kx < op.kw; ++kx, ++i)
        taps[i] = (c * band_rows + ky * op.dil_h) * pitch + kx * op.dil_w;
  return {&op, op.c_in * op.kh * op.kw, taps, pitch, op.stride_h * pitch, weight};
}

/** @brief Floats of a padded input row: every tap of every output column (column -pad_w first). */
inline std::int64_t few_channels_pitch(const conv2d_op& op) noexcept {
  return (op.out_w - 1) * op.stride_w + (op.kw - 1) * op.dil_w + 1;
}

/** @brief Padded input rows that @p out_rows consecutive output rows read (a thread's band). */
inline std::int64_t few_channels_band_rows(const conv2d_op& op, std::int64_t out_rows) noexcept {
  return (out_rows - 1) * op.stride_h + (op.kh - 1) * op.dil_h + 1;
}

/**
 * @brief Input rows [iy0, iy0 + rows) of one image's c_in planes, each @p pitch floats from
 * column -pad_w, zeros where that is padding, rows outside the image all zeros: [c_in][rows][pitch].
 */
inline void pad_input_rows(const conv2d_op& op, const float* image, std::int64_t iy0, std::int64_t rows,
                           std::int64_t pitch, float* band) noexcept {
  for (std::int64_t c = 0; c < op.c_in; ++c)
    for (std::int64_t r = 0; r < rows; ++r) {
      float* dst = band + (c * rows + r) * pitch;
      const std::int64_t iy = iy0 + r;
      if (iy < 0 || iy >= op.h) {
        detail::fill_floats(dst, pitch, 0.f);
        continue;
      }
      // The columns the taps read: the row may end before the input does (a stride that skips
      // its last columns) or after it (right padding).
      const std::int64_t left = std::min(op.pad_w, pitch), copied = std::clamp(pitch - left, std::int64_t{0}, op.w);
      detail::fill_floats(dst, left, 0.f);
      detail::copy_floats(image + (c * op.h + iy) * op.w, copied, dst + left);
      detail::fill_floats(dst + left + copied, pitch - left - copied, 0.f);
    }
}

/**
 * @brief The convolution (few_channels_apply): the weight turned to [block][tap][channel], then
 * the output rows of every image split between the threads, each padding the input rows its own
 * output rows read.
 */
template <int Pixels, int Vectors>
void few_channels_conv2d(cpu_context& ctx, const conv2d_op& op) {
  constexpr std::int64_t kBlock = kFewChannelsBlock<Vectors>;
  const std::int64_t depth = op.c_in * op.kh * op.kw, rows = op.n * op.out_h;
  const std::int64_t pitch = few_channels_pitch(op);
  const int threads = detail::threads_for(ctx, rows, rows * op.out_w * op.c_out * depth);
  scratch_frame frame(ctx);
  const float* weight = few_channels_weight<Vectors>(op, frame);
  const std::int64_t row_buffer_floats = op.out_w * kBlock;
  detail::parallel_ranges(ctx, threads, rows, [&](int, std::int64_t r0, std::int64_t r1) {
    // The thread's band: the input rows that its longest run of output rows in one image reads
    // (its range is sized by its speed: thread_pool::run_shares).
    const std::int64_t band_rows_max = few_channels_band_rows(op, std::min(op.out_h, r1 - r0));
    scratch_frame own(ctx.thread_scratch());
    float* band = own.take<float>(op.c_in * band_rows_max * pitch);
    float* row_buffer = own.take<float>(row_buffer_floats);
    for (std::int64_t r = r0; r < r1;) {  // one image's run of rows at a time
      const std::int64_t image = r / op.out_h, oy0 = r % op.out_h, oy1 = std::min(op.out_h, oy0 + (r1 - r));
      const std::int64_t iy0 = oy0 * op.stride_h - op.pad_h;
      const std::int64_t band_rows = few_channels_band_rows(op, oy1 - oy0);
      pad_input_rows(op, op.input + image * op.c_in * op.h * op.w, iy0, band_rows, pitch, band);
      std::int64_t taps[kFewChannelsMaxDepth];
      const few_channels_plan plan = plan_few_channels(op, band_rows, pitch, weight, taps);
      const std::int64_t offset = image * op.c_out * op.out_h * op.out_w;
      few_channels_rows<Pixels, Vectors>(plan, band, oy0, oy1, op.ep.residual ? op.ep.residual + offset : nullptr,
                                         op.output + offset, row_buffer);
      r += oy1 - oy0;
    }
  });
}

/**
 * @brief Calls run.template operator()<Pixels, Vectors>() with the register tile for @p c_out
 * output channels: 24 or 16 accumulators of 32 registers (AVX-512), 12 of 16 (AVX2 and narrower).
 */
template <class Run>
void with_few_channels_tile(std::int64_t c_out, Run&& run) {
  if constexpr (kLanes >= 16) {
    if (c_out % (4 * kLanes) == 0)
      run.template operator()<6, 4>();
    else
      run.template operator()<8, 2>();
  } else {
    run.template operator()<6, 2>();
  }
}

/** @brief few_channels_conv2d with the register tile for the output channels' count. */
inline void few_channels_conv2d(cpu_context& ctx, const conv2d_op& op) {
  with_few_channels_tile(op.c_out, [&]<int Pixels, int Vectors>() { few_channels_conv2d<Pixels, Vectors>(ctx, op); });
}

}  // namespace joule::simd_detail
