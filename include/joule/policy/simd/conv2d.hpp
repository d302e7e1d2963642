#pragma once
/**
 * @file conv2d.hpp
 * @brief simd conv2d: a dedicated vector kernel for depthwise convolutions, im2col + the simd GEMM
 * (epilogue fused) for everything else, and the simd GEMM on the input itself, with no im2col, for
 * 1x1 stride-1 unpadded convolutions (detail::conv2d_as_gemm); on small planes, with a weight
 * packed ahead, the GEMM with the pixels as rows (conv2d_pixel_rows.hpp), or for a deep 1x1
 * stride-1 layer on AVX-512 a dedicated 6-pixel x 64-channel tile (conv2d_pointwise.hpp).
 *
 * Depthwise (groups == c_in == c_out) does a few multiply-adds per output and would waste a GEMM.
 * At stride 1 with "same" width, a plane is read in place as one flat row of pixels, each tap a
 * masked load (flat_depthwise_conv2d); a 3x3 one on wider rows is read in place too, row by row
 * (depthwise_inplace.hpp). Otherwise
 * each plane is copied once into a padded, phase-split layout (detail::padded_plane), then a tile of
 * up to 4 output rows x 2 vectors of output columns accumulates every tap as one contiguous load and
 * one FMA per vector, for any stride, dilation and kernel size. Eight independent accumulators hide
 * the FMA latency; the bias, residual and activation are applied while the tile is in registers.
 */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/conv2d_few_channels.hpp>
#include <joule/policy/simd/conv2d_pixel_rows.hpp>
#include <joule/policy/simd/conv2d_pointwise.hpp>
#include <joule/policy/simd/conv2d_winograd.hpp>
#include <joule/policy/simd/depthwise_inplace.hpp>
#include <joule/policy/simd/gemm.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule {

namespace simd_detail {

/** @brief One plane of a depthwise convolution: its padded input, filter, and where results go. */
struct depthwise_plane {
  const conv2d_op* op;
  const detail::padded_plane* layout;
  const std::int64_t* taps;  ///< kh · kw tap offsets in the padded plane (detail::window_tap_offsets)
  const float* padded;       ///< the padded, phase-split input plane
  const float* filter;       ///< kh · kw weights
  float bias;                ///< 0 when the convolution has none
  const float* residual;     ///< this plane of the residual, or null
  float* out;                ///< this plane of the output
};

/** @brief Output rows [oy0, oy0 + Rows) x columns [ox0, ox0 + Vectors · kLanes) of one plane. */
template <int Rows, int Vectors>
inline void depthwise_tile(const depthwise_plane& p, std::int64_t oy0, std::int64_t ox0) noexcept {
  const conv2d_op& op = *p.op;
  const std::int64_t row_step = op.stride_h * p.layout->row_floats();
  const float* origin = p.padded + oy0 * row_step + ox0;
  // The tile's loops are unrolled by hand (pragmas) so that the accumulators live in registers:
  // GCC at -O2 keeps a small array in memory otherwise, and every FMA then waits on a store.
  batch acc[Rows][Vectors];
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < Vectors; ++v) acc[r][v] = batch(0.f);
  for (std::int64_t t = 0; t < op.kh * op.kw; ++t) {
    const batch weight(p.filter[t]);
    const float* tap = origin + p.taps[t];
#pragma GCC unroll 4
    for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < Vectors; ++v)
        acc[r][v] = xsimd::fma(batch::load_unaligned(tap + r * row_step + v * kLanes), weight, acc[r][v]);
  }
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r) {
    const std::int64_t offset = (oy0 + r) * op.out_w + ox0;
#pragma GCC unroll 2
    for (int v = 0; v < Vectors; ++v) {
      const std::int64_t count = std::min(kLanes, op.out_w - ox0 - v * kLanes);
      store_conv_lanes(acc[r][v], p.bias, p.residual ? p.residual + offset + v * kLanes : nullptr, op.ep.act,
                       p.out + offset + v * kLanes, count);
    }
  }
}

template <int Rows>
inline void depthwise_rows(const depthwise_plane& p, std::int64_t oy0) noexcept {
  const std::int64_t out_w = p.op->out_w;
  for (std::int64_t ox0 = 0; ox0 < out_w; ox0 += 2 * kLanes) {
    if (out_w - ox0 > kLanes)
      depthwise_tile<Rows, 2>(p, oy0, ox0);
    else
      depthwise_tile<Rows, 1>(p, oy0, ox0);
  }
}

/** @brief Depthwise convolution: every (image, channel) plane on its own, planes split across threads. */
inline void depthwise_conv2d(cpu_context& ctx, const conv2d_op& op) {
  const detail::window_geometry g = detail::geometry_of(op);
  const detail::padded_plane layout = detail::plan_padded_plane(g);
  const std::int64_t planes = op.n * op.c_in, pixels = op.out_h * op.out_w;
  // A small plane costs more to copy than to convolve: both count as work when choosing threads.
  const int threads = detail::threads_for(ctx, planes, planes * (layout.scratch_floats() + pixels * op.kh * op.kw));
  scratch_frame frame(ctx);
  std::int64_t* taps = frame.take<std::int64_t>(op.kh * op.kw);
  detail::window_tap_offsets(layout, g, taps);
  detail::parallel_ranges(ctx, threads, planes, [&](int, std::int64_t p0, std::int64_t p1) {
    scratch_frame own(ctx.thread_scratch());
    float* padded = own.take<float>(layout.scratch_floats());
    for (std::int64_t plane = p0; plane < p1; ++plane) {
      const std::int64_t c = plane % op.c_in;
      detail::fill_padded_plane(layout, g, op.input + plane * op.h * op.w, 0.f, padded);
      const depthwise_plane p{&op,
                              &layout,
                              taps,
                              padded,
                              op.weight + c * op.kh * op.kw,
                              op.ep.bias ? op.ep.bias[c] : 0.f,
                              op.ep.residual ? op.ep.residual + plane * pixels : nullptr,
                              op.output + plane * pixels};
      std::int64_t oy0 = 0;
      for (; oy0 + 4 <= op.out_h; oy0 += 4) depthwise_rows<4>(p, oy0);
      switch (op.out_h - oy0) {
        case 3:
          depthwise_rows<3>(p, oy0);
          break;
        case 2:
          depthwise_rows<2>(p, oy0);
          break;
        case 1:
          depthwise_rows<1>(p, oy0);
          break;
        default:
          break;
      }
    }
  });
}

/**
 * @brief Whether the flat depthwise kernel applies and pays: stride 1 and an output as wide as the
 * input ("same" padding along w, as every stride-1 depthwise layer of MobileNetV2 has), so that
 * neighbouring outputs of a plane, across row ends too, read neighbouring inputs at every tap;
 * and rows narrower than two vectors, which the row-wise kernel fills badly (a 7-wide row: 7 of 16
 * lanes). On wide planes the row-wise kernel fills its vectors anyway, and the flat kernel's masks
 * (one per vector and tap) would cost a sizeable part of the convolution to make (measured: 112 x
 * 112 x 32 channels, 6x slower with masks made by division per lane).
 */
inline bool flat_depthwise_applies(const conv2d_op& op) noexcept {
  return detail::reads_flat(detail::geometry_of(op)) && op.w < 2 * kLanes;
}

/** @brief One plane of a flat depthwise convolution. */
struct flat_plane {
  const std::int64_t* tap_offsets;  ///< kh · kw input offsets from an output's flat index
  const std::uint32_t* lanes;       ///< [vector][tap]: the lanes whose tap reads input, not padding
  std::int64_t taps, pixels;
  const float* input;     ///< this plane of the input
  const float* filter;    ///< kh · kw weights
  float bias;             ///< 0 when the convolution has none
  const float* residual;  ///< this plane of the residual, or null
  activation act;
  float* out;  ///< this plane of the output
};

/** @brief Output vectors [v0, v0 + Vectors) of one plane: per tap one masked load and one FMA each. */
template <int Vectors>
inline void flat_depthwise_tile(const flat_plane& p, std::int64_t v0) noexcept {
  batch acc[Vectors];
#pragma GCC unroll 4
  for (int j = 0; j < Vectors; ++j) acc[j] = batch(0.f);
  const float* origin = p.input + v0 * kLanes;
  for (std::int64_t t = 0; t < p.taps; ++t) {
    const batch weight(p.filter[t]);
    const float* tap = origin + p.tap_offsets[t];
#pragma GCC unroll 4
    for (int j = 0; j < Vectors; ++j)
      acc[j] = xsimd::fma(load_lanes(tap + j * kLanes, p.lanes[(v0 + j) * p.taps + t]), weight, acc[j]);
  }
#pragma GCC unroll 4
  for (int j = 0; j < Vectors; ++j) {
    const std::int64_t first = (v0 + j) * kLanes;
    store_conv_lanes(acc[j], p.bias, p.residual ? p.residual + first : nullptr, p.act, p.out + first,
                     std::min(kLanes, p.pixels - first));
  }
}

/**
 * @brief Depthwise convolution on each plane as one flat row of pixels (flat_depthwise_applies):
 * output vector v covers pixels [v · kLanes, + kLanes) whatever rows they sit in, and its tap t is
 * one load at a fixed offset, masked where the tap falls on padding (a row or column edge). The
 * masks depend only on the geometry: made once per call, shared by every plane. Against the padded
 * copy (depthwise_conv2d), no plane is copied, and 7- and 14-wide planes fill whole vectors (a
 * 7-wide row used 7 of 16 lanes).
 */
inline void flat_depthwise_conv2d(cpu_context& ctx, const conv2d_op& op) {
  const std::int64_t planes = op.n * op.c_in, pixels = op.out_h * op.out_w, taps = op.kh * op.kw;
  scratch_frame frame(ctx);
  const detail::flat_taps flat = detail::plan_flat_taps(detail::geometry_of(op), frame);
  const std::int64_t vectors = flat.vectors;
  const std::int64_t* offsets = flat.offsets;
  const std::uint32_t* lanes = flat.lanes;
  const int threads = detail::threads_for(ctx, planes, planes * pixels * taps);
  detail::parallel_ranges(ctx, threads, planes, [&](int, std::int64_t p0, std::int64_t p1) {
    for (std::int64_t plane = p0; plane < p1; ++plane) {
      const std::int64_t c = plane % op.c_in;
      const flat_plane p{offsets,
                         lanes,
                         taps,
                         pixels,
                         op.input + plane * op.h * op.w,
                         op.weight + c * taps,
                         op.ep.bias ? op.ep.bias[c] : 0.f,
                         op.ep.residual ? op.ep.residual + plane * pixels : nullptr,
                         op.ep.act,
                         op.output + plane * pixels};
      std::int64_t v = 0;
      for (; v + 4 <= vectors; v += 4) flat_depthwise_tile<4>(p, v);
      for (; v < vectors; ++v) flat_depthwise_tile<1>(p, v);
    }
  });
}

}  // namespace simd_detail

template <>
struct kernel<conv2d_op, simd> {
  static void run(cpu_context& ctx, const conv2d_op& op) {
    if (op.groups == op.c_in && op.groups == op.c_out && simd_detail::flat_depthwise_applies(op))
      simd_detail::flat_depthwise_conv2d(ctx, op);
    else if (simd_detail::depthwise_inplace_applies(op))
      simd_detail::depthwise_inplace_conv2d(ctx, op);
    else if (op.groups == op.c_in && op.groups == op.c_out)
      simd_detail::depthwise_conv2d(ctx, op);
    else if (simd_detail::few_channels_apply(op))
      simd_detail::few_channels_conv2d(ctx, op);
    else if (simd_detail::winograd_applies(op))
      simd_detail::winograd_conv2d(ctx, op);
    else if (simd_detail::pointwise_applies(op))  // a case of pixel_rows_apply
      simd_detail::conv2d_pointwise(ctx, op);
    else if (simd_detail::pixel_rows_apply(op))
      simd_detail::conv2d_pixel_rows(ctx, op);
    else
      detail::conv2d_as_gemm<simd>(ctx, op);
  }
};

}  // namespace joule
