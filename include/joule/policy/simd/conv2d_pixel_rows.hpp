#pragma once
/**
 * @file conv2d_pixel_rows.hpp
 * @brief simd conv2d with the output pixels as the GEMM's rows, for a weight packed ahead
 * (ops::pack_conv2d_weight): output^T [pixels, c_out] = columns^T · weight^T, then one pass that
 * transposes it into the NCHW output with the bias, residual and activation.
 *
 * The usual lowering (detail::conv2d_as_gemm) puts the output channels along the register tile's
 * rows and the pixels along its 32-column panels, packing the activations per call. On small
 * planes the panels fit badly: ResNet-50's 14 x 14 layers fill 196 of 224 columns, its 7 x 7
 * ones 49 of 64, and at two threads 7 panels split 3 + 4. With the pixels as rows, 196 pixels fill
 * 17 tiles of 12 rows (204), the channels fill whole panels, the weight is packed once at compile,
 * and the activations are read in place: column p of the columns matrix, 12 neighbouring pixels,
 * is what the micro-kernel broadcasts (gemm_op::trans_a).
 */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/gemm.hpp>
#include <joule/policy/simd/vector_math.hpp>
#if XSIMD_WITH_AVX512F
#include <immintrin.h>
#endif

namespace joule::simd_detail {

/**
 * @brief Whether a convolution is worth running with its pixels as rows: a packed weight, one group,
 * one image, and a plane small enough that the usual lowering fills its panels badly. Measured on
 * ResNet-50's layers at batch 1 (two threads, each against the usual lowering in the same run):
 * 1x1 at 14 x 14 and 7 x 7 output pixels took 0.73-0.89 of the time and the 7 x 7 3x3 stride-2
 * one 0.79, while 3x3 layers with 14 x 14 outputs lost (1.06: their columns matrix is written out
 * here) and 28 x 28 ones gained nothing. Several images go image by image here, re-reading the
 * weight for each, and at batch 8 lost to the usual lowering's one GEMM over every image.
 */
inline bool pixel_rows_apply(const conv2d_op& op) noexcept {
  const std::int64_t pixels = op.out_h * op.out_w;
  const bool one_by_one = op.kh == 1 && op.kw == 1;
  return op.packed_weight != nullptr && op.groups == 1 && op.n == 1 && (one_by_one ? pixels <= 196 : pixels <= 49);
}

/** @brief Floats from one row of the transposed output to the next: c_out, off a multiple of 1 KiB. */
inline std::int64_t pixel_rows_stride(std::int64_t c_out) noexcept {
  // Rows 4 KiB apart (c_out = 1024) map to one L1 set: the transposing pass, reading 16 rows at a
  // time, would evict its own lines. A vector of padding breaks the alignment.
  return c_out % 256 == 0 ? c_out + kLanes : c_out;
}

/**
 * @brief Output channels [c0, c0 + kLanes) x pixels [p0, p0 + count) (count <= kLanes) of one
 * image: a kLanes x kLanes block of the transposed output turned around, then stored a channel
 * row at a time with its bias, residual and activation.
 */
inline void transpose_block(const conv2d_op& op, const float* transposed, std::int64_t ld, std::int64_t c0,
                            std::int64_t p0, std::int64_t count, const float* residual, float* out) noexcept {
  const std::int64_t pixels = op.out_h * op.out_w;
  alignas(64) float rows[kLanes][kLanes];
#if XSIMD_WITH_AVX512F
  static_assert(kLanes == 16);
  __m512 r[16];
  for (int i = 0; i < 16; ++i)
    r[i] = i < count ? _mm512_loadu_ps(transposed + (p0 + i) * ld + c0) : _mm512_setzero_ps();
  transpose_16x16(r);
  for (int i = 0; i < 16; ++i) _mm512_store_ps(rows[i], r[i]);
#else
  for (std::int64_t i = 0; i < kLanes; ++i)
    for (std::int64_t j = 0; j < kLanes; ++j) rows[j][i] = i < count ? transposed[(p0 + i) * ld + c0 + j] : 0.f;
#endif
  for (std::int64_t j = 0; j < kLanes; ++j) {
    const std::int64_t c = c0 + j, at = c * pixels + p0;
    store_conv_lanes(batch::load_aligned(rows[j]), op.ep.bias ? op.ep.bias[c] : 0.f, residual ? residual + at : nullptr,
                     op.ep.act, out + at, count);
  }
}

/** @brief The NCHW output of one image from its transposed output [pixels, c_out] (row stride @p ld). */
inline void transpose_output(cpu_context& ctx, const conv2d_op& op, const float* transposed, std::int64_t ld,
                             const float* residual, float* out) {
  const std::int64_t pixels = op.out_h * op.out_w, blocks = op.c_out / kLanes;
  ctx.parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b)
      for (std::int64_t p0 = 0; p0 < pixels; p0 += kLanes)
        transpose_block(op, transposed, ld, b * kLanes, p0, std::min(kLanes, pixels - p0), residual, out);
  });
  // Channels past the last whole block of kLanes, one at a time.
  for (std::int64_t c = blocks * kLanes; c < op.c_out; ++c)
    for (std::int64_t p = 0; p < pixels; ++p) {
      float v = transposed[p * ld + c] + (op.ep.bias ? op.ep.bias[c] : 0.f);
      if (residual) v += residual[c * pixels + p];
      out[c * pixels + p] = apply_activation(op.ep.act, v);
    }
}

/**
 * @brief The convolution with its pixels as the GEMM's rows (pixel_rows_apply), image by image:
 * A is the input itself for a 1x1 stride-1 unpadded convolution, else its columns matrix written
 * out (k x pixels, at most 14 x 14 pixels: about 1.8 MB for ResNet-50's widest); B is the packed
 * weight; C, the transposed output, goes to scratch and is turned into the output by one pass.
 */
inline void conv2d_pixel_rows(cpu_context& ctx, const conv2d_op& op) {
  const std::int64_t depth = op.c_in * op.kh * op.kw, pixels = op.out_h * op.out_w, in_plane = op.h * op.w;
  const bool direct =
      op.kh == 1 && op.kw == 1 && op.stride_h == 1 && op.stride_w == 1 && op.pad_h == 0 && op.pad_w == 0;
  const detail::window_geometry g = detail::geometry_of(op);
  const std::int64_t ld = pixel_rows_stride(op.c_out);
  scratch_frame frame(ctx);
  float* cols = direct ? nullptr : frame.take<float>(depth * pixels);
  float* transposed = frame.take<float>(pixels * ld);
  for (std::int64_t b = 0; b < op.n; ++b) {
    const float* in = op.input + b * op.c_in * in_plane;
    if (!direct) detail::im2col(ctx, g, op.c_in, in, cols);
    gemm_op gemm{.m = pixels,
                 .n = op.c_out,
                 .k = depth,
                 .a = direct ? in : cols,
                 .lda = pixels,
                 .b = op.packed_weight,
                 .ldb = 0,
                 .trans_b = false,
                 .c = transposed,
                 .ldc = ld,
                 .alpha = 1.f,
                 .ep = {}};
    gemm.b_panel_width = gemm_blocking::kPanel;
    gemm.trans_a = true;
    kernel<gemm_op, simd>::run(ctx, gemm);
    const std::int64_t offset = b * op.c_out * pixels;
    transpose_output(ctx, op, transposed, ld, op.ep.residual ? op.ep.residual + offset : nullptr, op.output + offset);
  }
}

}  // namespace joule::simd_detail
