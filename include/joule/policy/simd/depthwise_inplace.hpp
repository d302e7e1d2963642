#pragma once
/**
 * @file depthwise_inplace.hpp
 * @brief simd depthwise 3x3 convolution, stride 1 or 2, read in place: no padded copy.
 *
 * MobileNetV2's depthwise layers pad each side of a row by one column (its bands hold their own
 * rows above and below: padding 0 along h). The general kernel copies every plane into a padded,
 * phase-split buffer first (detail::fill_padded_plane: 7% of MobileNetV2's time at batch 1);
 * this one reads the input rows where they are. A tile of Rows output rows x Vectors vectors
 * loads each input row it reads once per tap column and adds it to every output row it reaches:
 * at stride 1, (Rows + 2) · 3 loads per vector column instead of Rows · 9. Only the vectors at a
 * row's two ends load with masks (the lanes past either end are the padding, zero); at stride 2
 * every row is dealt into its even and odd columns (three loads and a few permutes with AVX-512,
 * masked where they pass an end). Rows above and below the plane read a row of zeros.
 */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/row_taps.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule::simd_detail {

/**
 * @brief Whether depthwise_inplace_conv2d applies: a 3x3 depthwise window at stride 1 or 2,
 * dilation 1, one column of padding either side, 0 or 1 row of padding; at stride 1, rows at
 * least two vectors wide (narrower ones go flat: flat_depthwise_conv2d).
 */
inline bool depthwise_inplace_applies(const conv2d_op& op) noexcept {
  return op.groups == op.c_in && op.groups == op.c_out && op.kh == 3 && op.kw == 3 && op.stride_h == op.stride_w &&
         (op.stride_h == 1 ? op.w >= 2 * kLanes : op.stride_h == 2) && op.dil_h == 1 && op.dil_w == 1 &&
         op.pad_w == 1 && (op.pad_h == 0 || op.pad_h == 1);
}

/** @brief One plane of depthwise_inplace_conv2d. */
struct depthwise_inplace_plane {
  const conv2d_op* op;
  const float* input;     ///< this plane of the input [h, w]
  const float* zeros;     ///< a row of w + 2 kLanes zeros: the rows above and below the plane
  const float* filter;    ///< the 9 weights
  float bias;             ///< 0 when the convolution has none
  const float* residual;  ///< this plane of the residual, or null
  float* out;             ///< this plane of the output [out_h, out_w]
};

/**
 * @brief Output rows [oy0, oy0 + Rows) x columns [x0, x0 + Vectors · kLanes) (fewer at the row's
 * end). Edge (stride 1): the tile touches a row end, so its loads are masked to the row. At stride
 * 2, each input row is dealt into the three column phases the taps read, as Winograd's patch rows
 * are (row_taps<2>: lane l of tap dx is column 2 (x0 + l) - 1 + dx, 0 off the row).
 */
template <int Stride, int Rows, int Vectors, bool Edge>
[[gnu::always_inline]] inline void depthwise_inplace_tile(const depthwise_inplace_plane& p, const float* const* rows,
                                                          std::int64_t oy0, std::int64_t x0) noexcept {
  const conv2d_op& op = *p.op;
  batch acc[Rows][Vectors];
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < Vectors; ++v) acc[r][v] = batch(0.f);
  batch weight[9];
#pragma GCC unroll 9
  for (int t = 0; t < 9; ++t) weight[t] = batch(p.filter[t]);
    // Input row i of the tile feeds output row r through filter row dy = i - Stride · r.
#pragma GCC unroll 9
  for (int i = 0; i < (Rows - 1) * Stride + 3; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < Vectors; ++v) {
      batch x[4];  // x[dx]: the row's inputs under tap column dx (x[3]: unused)
      if constexpr (Stride == 1) {
        const std::int64_t col = x0 + v * kLanes;  // the column under tap column 1, lane 0
        if (!Edge) {
#pragma GCC unroll 3
          for (int dx = 0; dx < 3; ++dx) x[dx] = batch::load_unaligned(rows[i] + col + dx - 1);
        } else if (col + kLanes <= op.w) {
          // A whole vector of the row: the columns either side are it shifted a lane, padding shifted
          // in, where the row ends (no masked load: about 7 cycles each on Zen 1).
          x[1] = batch::load_unaligned(rows[i] + col);
          x[0] = col > 0 ? batch::load_unaligned(rows[i] + col - 1) : lanes_up_one(x[1]);
          x[2] = col + kLanes < op.w ? batch::load_unaligned(rows[i] + col + 1) : lanes_down_one(x[1]);
        } else {
#pragma GCC unroll 3
          for (int dx = 0; dx < 3; ++dx) x[dx] = load_row_part(rows[i], op.w, col + dx - 1, kLanes);
        }
      } else {
        row_taps<2>(op, rows[i], 0, x0 + v * kLanes, x);
      }
#pragma GCC unroll 3
      for (int dy = 0; dy < 3; ++dy) {
        const int r = (i - dy) / Stride;
        if (i - dy >= 0 && (i - dy) % Stride == 0 && r < Rows)
#pragma GCC unroll 3
          for (int dx = 0; dx < 3; ++dx) acc[r][v] = xsimd::fma(x[dx], weight[3 * dy + dx], acc[r][v]);
      }
    }
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < Vectors; ++v) {
      const std::int64_t at = (oy0 + r) * op.out_w + x0 + v * kLanes;
      store_conv_lanes(acc[r][v], p.bias, p.residual ? p.residual + at : nullptr, op.ep.act, p.out + at,
                       std::min(kLanes, op.out_w - x0 - v * kLanes));
    }
}

/** @brief Output rows [oy0, oy0 + Rows) of one plane, two vectors of columns at a time. */
template <int Stride, int Rows>
inline void depthwise_inplace_band(const depthwise_inplace_plane& p, std::int64_t oy0) noexcept {
  const conv2d_op& op = *p.op;
  constexpr int kInputRows = (Rows - 1) * Stride + 3;
  const float* rows[kInputRows];  // the input rows the band reads, a zero row off the plane
  for (int i = 0; i < kInputRows; ++i) {
    const std::int64_t y = oy0 * Stride - op.pad_h + i;
    rows[i] = y >= 0 && y < op.h ? p.input + y * op.w : p.zeros + kLanes;
  }
  constexpr std::int64_t step = 2 * kLanes;
  std::int64_t x0 = 0;
  if constexpr (Stride == 1) {
    // The first tile reads column -1, the last one column w: both masked; the ones between whole.
    depthwise_inplace_tile<1, Rows, 2, true>(p, rows, oy0, 0);
    for (x0 = step; x0 + step + 1 <= op.w; x0 += step) depthwise_inplace_tile<1, Rows, 2, false>(p, rows, oy0, x0);
  } else {
    for (; x0 + step <= op.out_w; x0 += step) depthwise_inplace_tile<2, Rows, 2, true>(p, rows, oy0, x0);
  }
  if (x0 >= op.out_w) return;
  if (op.out_w - x0 > kLanes)
    depthwise_inplace_tile<Stride, Rows, 2, true>(p, rows, oy0, x0);
  else
    depthwise_inplace_tile<Stride, Rows, 1, true>(p, rows, oy0, x0);
}

/** @brief Every output row of one plane: bands of 4 rows, then the 1 to 3 left. */
template <int Stride>
inline void depthwise_inplace_plane_rows(const depthwise_inplace_plane& p) noexcept {
  const std::int64_t out_h = p.op->out_h;
  std::int64_t oy0 = 0;
  for (; oy0 + 4 <= out_h; oy0 += 4) depthwise_inplace_band<Stride, 4>(p, oy0);
  switch (out_h - oy0) {
    case 3:
      depthwise_inplace_band<Stride, 3>(p, oy0);
      break;
    case 2:
      depthwise_inplace_band<Stride, 2>(p, oy0);
      break;
    case 1:
      depthwise_inplace_band<Stride, 1>(p, oy0);
      break;
    default:
      break;
  }
}

/** @brief The convolution (depthwise_inplace_applies), planes split across threads. */
inline void depthwise_inplace_conv2d(cpu_context& ctx, const conv2d_op& op) {
  const std::int64_t planes = op.n * op.c_in, pixels = op.out_h * op.out_w;
  scratch_frame frame(ctx);
  float* zeros = frame.take<float>(op.w + 2 * kLanes);
  std::fill(zeros, zeros + op.w + 2 * kLanes, 0.f);
  const int threads = detail::threads_for(ctx, planes, planes * pixels * 9);
  detail::parallel_ranges(ctx, threads, planes, [&](int, std::int64_t p0, std::int64_t p1) {
    for (std::int64_t plane = p0; plane < p1; ++plane) {
      const std::int64_t c = plane % op.c_in;
      const depthwise_inplace_plane p{&op,
                                      op.input + plane * op.h * op.w,
                                      zeros,
                                      op.weight + c * 9,
                                      op.ep.bias ? op.ep.bias[c] : 0.f,
                                      op.ep.residual ? op.ep.residual + plane * pixels : nullptr,
                                      op.output + plane * pixels};
      if (op.stride_h == 1)
        depthwise_inplace_plane_rows<1>(p);
      else
        depthwise_inplace_plane_rows<2>(p);
    }
  });
}

}  // namespace joule::simd_detail
