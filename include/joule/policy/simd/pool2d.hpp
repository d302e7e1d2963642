#pragma once
/**
 * @file pool2d.hpp
 * @brief simd pool2d: max and average pooling over padded, phase-split planes.
 *
 * Each (image, channel) plane is copied once into a detail::padded_plane whose padding is -inf for a
 * max (so padding never wins) and 0 for an average; a tile of up to 4 output rows x 2 vectors of
 * output columns then reads every window position as one contiguous load, for any stride, with no
 * border tests. The max is nan_max(), so a NaN in a window is that window's result, as in PyTorch;
 * x86 max instructions would drop it. 3x3 stride-2 max pools (ResNet's) are read in place instead
 * (max_pool_3x3_stride2.hpp).
 */
#include <algorithm>
#include <cstdint>
#include <limits>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/pool2d.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/max_pool_3x3_stride2.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule {

namespace simd_detail {

/** @brief One plane of a pooling: its padded input, the averages' divisors, and where results go. */
struct pool_plane {
  const pool2d_op* op;
  const detail::padded_plane* layout;
  const std::int64_t* taps;  ///< kh · kw window offsets in the padded plane (detail::window_tap_offsets)
  const float* padded;
  const float* row_count;  ///< average: window rows inside the divisor, per output row
  const float* col_count;  ///< average: window columns inside the divisor, per output column (+ slack)
  float* out;
};

template <pool_kind Kind, int Rows, int Vectors>
inline void pool_tile(const pool_plane& p, std::int64_t oy0, std::int64_t ox0) noexcept {
  const pool2d_op& op = *p.op;
  const std::int64_t row_step = op.stride_h * p.layout->row_floats();
  const batch init(Kind == pool_kind::max ? -std::numeric_limits<float>::infinity() : 0.f);
  // Unrolled by hand (pragmas) so that the accumulators live in registers, as in simd conv2d.
  batch acc[Rows][Vectors];
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < Vectors; ++v) acc[r][v] = init;
  const float* origin = p.padded + oy0 * row_step + ox0;
  for (std::int64_t t = 0; t < op.kh * op.kw; ++t) {
    const float* tap = origin + p.taps[t];
#pragma GCC unroll 4
    for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < Vectors; ++v) {
        const batch x = batch::load_unaligned(tap + r * row_step + v * kLanes);
        if constexpr (Kind == pool_kind::max)
          acc[r][v] = nan_max(acc[r][v], x);
        else
          acc[r][v] += x;
      }
  }
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < Vectors; ++v) {
      const std::int64_t ox = ox0 + v * kLanes;
      batch result = acc[r][v];
      if constexpr (Kind == pool_kind::average)
        result /= batch(p.row_count[oy0 + r]) * batch::load_unaligned(p.col_count + ox);
      float* out = p.out + (oy0 + r) * op.out_w + ox;
      const std::int64_t count = std::min(kLanes, op.out_w - ox);
      if (count == kLanes) {
        result.store_unaligned(out);
      } else {
        alignas(64) float lanes[kLanes];
        result.store_aligned(lanes);
        std::copy(lanes, lanes + count, out);
      }
    }
  }
}

template <pool_kind Kind, int Rows>
inline void pool_rows(const pool_plane& p, std::int64_t oy0) noexcept {
  const std::int64_t out_w = p.op->out_w;
  for (std::int64_t ox0 = 0; ox0 < out_w; ox0 += 2 * kLanes) {
    if (out_w - ox0 > kLanes)
      pool_tile<Kind, Rows, 2>(p, oy0, ox0);
    else
      pool_tile<Kind, Rows, 1>(p, oy0, ox0);
  }
}

template <pool_kind Kind>
inline void pool_plane_rows(const pool_plane& p) noexcept {
  std::int64_t oy0 = 0;
  for (; oy0 + 4 <= p.op->out_h; oy0 += 4) pool_rows<Kind, 4>(p, oy0);
  switch (p.op->out_h - oy0) {
    case 3:
      pool_rows<Kind, 3>(p, oy0);
      break;
    case 2:
      pool_rows<Kind, 2>(p, oy0);
      break;
    case 1:
      pool_rows<Kind, 1>(p, oy0);
      break;
    default:
      break;
  }
}

/** @brief How many of a window's @p k positions along one axis count for an average's divisor. */
inline float window_count(const pool2d_op& op, std::int64_t start, std::int64_t k, std::int64_t size) noexcept {
  if (op.count_include_pad) return static_cast<float>(k);
  return static_cast<float>(std::min(start + k, size) - std::max<std::int64_t>(start, 0));
}

}  // namespace simd_detail

template <>
struct kernel<pool2d_op, simd> {
  static void run(cpu_context& ctx, const pool2d_op& op) {
    using simd_detail::kLanes;
    if (simd_detail::max_pool_3x3_stride2_applies(op)) return simd_detail::max_pool_3x3_stride2(ctx, op);
    const detail::window_geometry g = detail::geometry_of(op);
    const detail::padded_plane layout = detail::plan_padded_plane(g);
    const std::int64_t planes = op.n * op.c;
    // A small plane costs more to copy than to pool: both count as work when choosing threads.
    const int threads =
        detail::threads_for(ctx, planes, planes * (layout.scratch_floats() + op.out_h * op.out_w * op.kh * op.kw));
    scratch_frame frame(ctx);
    std::int64_t* taps = frame.take<std::int64_t>(op.kh * op.kw);
    detail::window_tap_offsets(layout, g, taps);
    // The divisors are products of a row count and a column count (exact in float), shared by
    // every plane; the column counts run 2 vectors past out_w so that a whole tile may load them.
    float* row_count = frame.take<float>(op.out_h);
    float* col_count = frame.take<float>(op.out_w + 2 * kLanes);
    for (std::int64_t oy = 0; oy < op.out_h; ++oy)
      row_count[oy] = simd_detail::window_count(op, oy * op.stride_h - op.pad_h, op.kh, op.h);
    std::fill(col_count, col_count + op.out_w + 2 * kLanes, 1.f);
    for (std::int64_t ox = 0; ox < op.out_w; ++ox)
      col_count[ox] = simd_detail::window_count(op, ox * op.stride_w - op.pad_w, op.kw, op.w);
    const float pad_value = op.kind == pool_kind::max ? -std::numeric_limits<float>::infinity() : 0.f;
    detail::parallel_ranges(ctx, threads, planes, [&](int, std::int64_t p0, std::int64_t p1) {
      scratch_frame own(ctx.thread_scratch());
      float* padded = own.take<float>(layout.scratch_floats());
      for (std::int64_t plane = p0; plane < p1; ++plane) {
        detail::fill_padded_plane(layout, g, op.input + plane * op.h * op.w, pad_value, padded);
        const simd_detail::pool_plane p{
            &op, &layout, taps, padded, row_count, col_count, op.output + plane * op.out_h * op.out_w};
        if (op.kind == pool_kind::max)
          simd_detail::pool_plane_rows<pool_kind::max>(p);
        else
          simd_detail::pool_plane_rows<pool_kind::average>(p);
      }
    });
  }
};

}  // namespace joule
