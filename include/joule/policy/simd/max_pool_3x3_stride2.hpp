#pragma once
/**
 * @file max_pool_3x3_stride2.hpp
 * @brief simd max pooling 3x3, stride 2, padding 0 or 1 (ResNet's pool after its stem), read in
 * place: no padded copy of the plane.
 *
 * The general pooling (pool2d.hpp) copies each plane into a padded, phase-split layout, then takes
 * 9 loads and 9 maxima per output vector. Here each output row is two passes over one row buffer
 * that stays in L1: the vertical maximum of its three input rows (contiguous loads), then the
 * horizontal one, whose windows are the even, odd and next even columns of the buffer
 * (detail::even_lanes / odd_lanes of two contiguous loads). Padding is -inf, at the buffer's ends
 * and as rows left out, so it never wins. A NaN in a window is that window's result, as in
 * PyTorch (nan_max).
 */
#include <algorithm>
#include <cstdint>
#include <limits>

#include <joule/core/context.hpp>
#include <joule/ops/desc/pool2d.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule::simd_detail {

/** @brief Whether max_pool_3x3_stride2() computes @p op. */
inline bool max_pool_3x3_stride2_applies(const pool2d_op& op) noexcept {
  return op.kind == pool_kind::max && op.kh == 3 && op.kw == 3 && op.stride_h == 2 && op.stride_w == 2 &&
         op.pad_h <= 1 && op.pad_w <= 1 && op.out_h == (op.h + 2 * op.pad_h - 3) / 2 + 1 &&
         op.out_w == (op.w + 2 * op.pad_w - 3) / 2 + 1;
}

/** @brief The larger of @p a and @p b, or the NaN if either is one (x86's max would drop it). */
inline batch nan_max(batch a, batch b) noexcept { return xsimd::select((b > a) || xsimd::isnan(b), b, a); }

/**
 * @brief Floats of a row buffer: one -inf column before the row (the left padding), the row, and
 * -inf after it past the last vectors the horizontal pass loads (2 ox + 2 + kLanes for its last
 * ox, a multiple of kLanes).
 */
inline std::int64_t max_pool_row_floats(const pool2d_op& op) noexcept {
  const std::int64_t vectors = (op.out_w + kLanes - 1) / kLanes;
  return std::max(1 + op.w, 2 * vectors * kLanes + 2 + kLanes) + kLanes;
}

/**
 * @brief Output rows [oy0, oy1) of one plane: @p in [h, w] to @p out [out_h, out_w], with @p row as
 * the row buffer.
 */
inline void max_pool_3x3_stride2_plane(const pool2d_op& op, const float* in, float* out, float* row, std::int64_t oy0,
                                       std::int64_t oy1) noexcept {
  const batch minus_inf(-std::numeric_limits<float>::infinity());
  // Buffer column 0 is input column -1; the windows of output column ox start at input column
  // 2 ox - pad_w, buffer column 2 ox + 1 - pad_w.
  const float* window = row + 1 - op.pad_w;
  for (std::int64_t oy = oy0; oy < oy1; ++oy) {
    const std::int64_t y0 = 2 * oy - op.pad_h;
    const std::int64_t first = std::max<std::int64_t>(y0, 0), last = std::min(y0 + 3, op.h);
    for (std::int64_t x = 0; x < op.w; x += kLanes) {
      const std::int64_t count = std::min(kLanes, op.w - x);
      batch m = minus_inf;
      for (std::int64_t y = first; y < last; ++y) {
        const float* p = in + y * op.w + x;
        m = nan_max(m, count == kLanes ? batch::load_unaligned(p) : load_first(p, count));
      }
      // Only the row's own columns: the buffer past them keeps the -inf it was filled with.
      if (count == kLanes)
        m.store_unaligned(row + 1 + x);
      else
        store_first(m, row + 1 + x, count);
    }
    float* out_row = out + oy * op.out_w;
    for (std::int64_t ox = 0; ox < op.out_w; ox += kLanes) {
      const float* p = window + 2 * ox;
      const batch a = batch::load_unaligned(p), b = batch::load_unaligned(p + kLanes);
      const batch a2 = batch::load_unaligned(p + 2), b2 = batch::load_unaligned(p + 2 + kLanes);
      const batch m = nan_max(nan_max(detail::even_lanes(a, b), detail::odd_lanes(a, b)), detail::even_lanes(a2, b2));
      const std::int64_t count = std::min(kLanes, op.out_w - ox);
      if (count == kLanes)
        m.store_unaligned(out_row + ox);
      else
        store_first(m, out_row + ox, count);
    }
  }
}

/**
 * @brief Max pooling 3x3, stride 2 (max_pool_3x3_stride2_applies). Fewer images than threads share
 * out the output rows, every plane's; more, whole planes.
 *
 * The input is the stem's output, which the GEMM before splits by pixels: at batch 1 each thread
 * wrote the top or the bottom half of every plane. Split by planes, each thread read half its
 * input from the other core's cache (ResNet-50's pool 0.17 ms in the model, against 0.085 in
 * ONNX Runtime's profile); by rows, the half it wrote. Batches go images side by side through the
 * stem, a thread's share whole images, as whole planes here.
 */
inline void max_pool_3x3_stride2(cpu_context& ctx, const pool2d_op& op) {
  const std::int64_t planes = op.n * op.c, row_floats = max_pool_row_floats(op);
  const bool by_rows = op.n < ctx.threads();
  const std::int64_t items = by_rows ? op.out_h : planes;
  const int threads = detail::threads_for(ctx, items, planes * op.h * op.w * 2);
  detail::parallel_ranges(ctx, threads, items, [&](int, std::int64_t i0, std::int64_t i1) {
    scratch_frame own(ctx.thread_scratch());
    float* row = own.take<float>(row_floats);
    // -inf everywhere once: the vertical pass rewrites only columns [1, 1 + w).
    std::fill(row, row + row_floats, -std::numeric_limits<float>::infinity());
    const std::int64_t p0 = by_rows ? 0 : i0, p1 = by_rows ? planes : i1;
    const std::int64_t oy0 = by_rows ? i0 : 0, oy1 = by_rows ? i1 : op.out_h;
    for (std::int64_t plane = p0; plane < p1; ++plane)
      max_pool_3x3_stride2_plane(op, op.input + plane * op.h * op.w, op.output + plane * op.out_h * op.out_w, row, oy0,
                                 oy1);
  });
}

}  // namespace joule::simd_detail
