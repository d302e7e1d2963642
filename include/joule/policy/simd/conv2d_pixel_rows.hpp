#pragma once
/**
 * @file conv2d_pixel_rows.hpp
 * @brief simd conv2d with the output pixels as the GEMM's rows, for a weight packed ahead
 * (ops::pack_conv2d_weight): output^T [pixels, c_out] = columns^T · weight^T, each finished tile of
 * it turned around into the NCHW output, with the bias, residual and activation, as the GEMM makes it
 * (gemm_op::tile_sink).
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
#if XSIMD_WITH_AVX512F || XSIMD_WITH_AVX
#include <immintrin.h>
#endif

namespace joule::simd_detail {

/**
 * @brief Whether a convolution is worth running with its pixels as rows: a packed weight, one group,
 * one image, and a plane small enough that the usual lowering fills its panels badly. Measured on
 * ResNet-50's layers at batch 1 (two threads, each against the usual lowering in the same run):
 * 1x1 at 14 x 14 and 7 x 7 output pixels took 0.73-0.89 of the time and the 7 x 7 3x3 stride-2
 * one 0.79; 28 x 28 ones gained nothing. The 14 x 14 3x3 stride-2 layer (its columns matrix,
 * 2.3 MB, is written out here) is 1.04-1.07 of the time alone, but 0.91-0.95 in the model, and the
 * whole model 0.978 and 0.982 (scripts/ab-models.sh, 40 and 60 rounds, once the output no longer went
 * through scratch: gemm_op::tile_sink). Several images go image by image here, re-reading the
 * weight for each, and at batch 8 lost to the usual lowering's one GEMM over every image.
 */
inline bool pixel_rows_apply(const conv2d_op& op) noexcept {
  const std::int64_t pixels = op.out_h * op.out_w;
  return op.packed_weight != nullptr && op.groups == 1 && op.n == 1 && pixels <= 196;
}

/**
 * @brief Floats from one row of the transposed output's partial sums (the k blocks before the last,
 * which the GEMM keeps in C) to the next: c_out, off a multiple of 1 KiB.
 */
inline std::int64_t pixel_rows_stride(std::int64_t c_out) noexcept {
  // Rows 4 KiB apart (c_out = 1024) map to one L1 set: a tile's 12 rows of partial sums would evict
  // one another. A vector of padding breaks the alignment.
  return c_out % 256 == 0 ? c_out + kLanes : c_out;
}

/**
 * @brief Output channels [c0, c0 + channels) x pixels [p0, p0 + count) of one image (both at most
 * kLanes), from @p block: the transposed output's [count, channels] block (row stride @p ld), turned
 * around in registers, then stored a channel row at a time with its bias, residual and activation.
 */
inline void transpose_block(const conv2d_op& op, const float* block, std::int64_t ld, std::int64_t c0,
                            std::int64_t channels, std::int64_t p0, std::int64_t count, const float* residual,
                            float* out) noexcept {
  const std::int64_t pixels = op.out_h * op.out_w;
  // Channel j's pixels, with its bias, residual and activation, into the output, each channel from
  // its register: through an aligned buffer, the 16 stores and loads took 1-2% more of ResNet-50's
  // 14 x 14 1x1 layers (a throwaway A/B in one process, one thread and two).
  const auto store_channel = [&](batch v, std::int64_t j) __attribute__((always_inline)) {
    const std::int64_t c = c0 + j, at = c * pixels + p0;
    store_conv_lanes(v, op.ep.bias ? op.ep.bias[c] : 0.f, residual ? residual + at : nullptr, op.ep.act, out + at,
                     count);
  };
#if XSIMD_WITH_AVX512F
  static_assert(kLanes == 16);
  const __mmask16 live = static_cast<__mmask16>((1u << channels) - 1u);
  __m512 r[16];
  for (int i = 0; i < 16; ++i) r[i] = i < count ? _mm512_maskz_loadu_ps(live, block + i * ld) : _mm512_setzero_ps();
  transpose_16x16(r);
  for (std::int64_t j = 0; j < channels; ++j) store_channel(r[j], j);
#elif XSIMD_WITH_AVX
  // Lane by lane, the 64 floats and their bounds checks took 3% of ResNet-50 at batch 1 on Zen 1
  // (perf); its 14 x 14 and 7 x 7 1x1 layers took 0.96-0.98 of the time with this transpose.
  static_assert(kLanes == 8);
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = i < count ? __m256(load_first(block + i * ld, channels)) : _mm256_setzero_ps();
  transpose_8x8(r);
  for (std::int64_t j = 0; j < channels; ++j) store_channel(r[j], j);
#else
  for (std::int64_t j = 0; j < channels; ++j) {
    alignas(64) float lanes[kLanes] = {};
    for (std::int64_t i = 0; i < count; ++i) lanes[i] = block[i * ld + j];
    store_channel(batch::load_aligned(lanes), j);
  }
#endif
}

/** @brief Where the GEMM's finished tiles go (gemm_op::tile_sink): one image's NCHW output. */
struct pixel_rows_output {
  const conv2d_op* op = nullptr;
  const float* residual = nullptr;  ///< the image's residual, or null
  float* out = nullptr;             ///< the image's output
};

/**
 * @brief gemm_op::tile_sink of conv2d_pixel_rows: a finished tile, pixels [row, row + rows) x
 * channels [col, col + cols), into the NCHW output, kLanes channels at a time. The tile is still in
 * L1; written out and transposed by a second pass, it was read back from L2 or L3 (ResNet-50's
 * 14 x 14 1x1 layers: an 815 KB transposed output, next to a 1 MB weight and as much residual).
 */
inline void pixel_rows_sink(const void* target, const float* tile, std::int64_t ld, std::int64_t row, std::int64_t col,
                            std::int64_t rows, std::int64_t cols) {
  const auto& to = *static_cast<const pixel_rows_output*>(target);
  // Blocks of at most kLanes pixels too: a tile's kRows exceed a vector's lanes where a vector holds
  // 4 floats (SSE: 6 rows), and the pixels past the fourth went unwritten.
  for (std::int64_t i = 0; i < rows; i += kLanes)
    for (std::int64_t j = 0; j < cols; j += kLanes)
      transpose_block(*to.op, tile + i * ld + j, ld, col + j, std::min(kLanes, cols - j), row + i,
                      std::min(kLanes, rows - i), to.residual, to.out);
  // The next tile of these channels (the GEMM goes down a panel's row tiles) stores the next
  // pixels of the same channel rows: the line its run ends in (the one it starts in is this run's
  // last) of the residual and the output is fetched now.
  const std::int64_t pixels = to.op->out_h * to.op->out_w, next_end = std::min(pixels, row + 2 * rows);
  if (row + rows < pixels)
    for (std::int64_t c = col; c < col + cols; ++c) {
      const std::int64_t last = c * pixels + next_end - 1;
      if (to.residual) __builtin_prefetch(to.residual + last, 0, 3);
      __builtin_prefetch(to.out + last, 1, 3);
    }
}

/**
 * @brief Whether conv2d_pixel_rows writes the columns straight into the GEMM's packed A tiles
 * (columns_into_tiles): a window read by phases (detail::im2col_by_phases_applies: ResNet-50's
 * stride-2 layers) whose pixels fill whole row tiles or leave a last one of kShortTailRows or more
 * (14 x 14 outputs: 16 tiles and one of 4; not 7 x 7's 49 pixels, whose tiles are evened out).
 */
inline bool columns_into_tiles_applies(const detail::window_geometry& g) noexcept {
  return detail::im2col_by_phases_applies(g) && fills_row_tiles(g.out_h * g.out_w);
}

/**
 * @brief The columns matrix of @p channels planes of @p input (columns_into_tiles_applies) as the
 * simd GEMM's packed A (gemm_a_packing<simd>): the output pixels in tiles of kRows, each tile
 * [depth][kRows], zeros past the last pixel. A block of channels at a time makes its rows in a
 * buffer that stays in L1 (detail::channel_rows_by_phases), then each tile takes them as one run of
 * rows · kRows floats. Written as a matrix, the GEMM read each step's 12 pixels from lines of
 * their own (gemm_op::trans_a), or packed them in a pass of its own (pack_a_applies).
 */
inline void columns_into_tiles(cpu_context& ctx, const detail::window_geometry& g, std::int64_t channels,
                               const float* input, float* tiles) {
  constexpr std::int64_t kRows = gemm_blocking::kRows;
  const std::int64_t plane = g.h * g.w, pixels = g.out_h * g.out_w, taps = g.kh * g.kw, depth = channels * taps;
  // kLanes rows a block where the window allows (16 channels of a 1x1 window; one channel, 9 rows,
  // of a 3x3), so that a tile's run of them spans whole lines.
  const std::int64_t block = std::max<std::int64_t>(1, kLanes / taps), blocks = detail::ceil_div(channels, block);
  scratch_frame frame(ctx);
  const detail::phase_taps pt = detail::plan_phase_taps(g, frame);
  const int threads = detail::threads_for(ctx, blocks, depth * pixels, 16384);
  detail::parallel_ranges(ctx, threads, blocks, [&](int, std::int64_t b0, std::int64_t b1) {
    scratch_frame own(ctx.thread_scratch());
    float* rows = own.take<float>(block * taps * pixels);
    alignas(64) float buffer[detail::kPhaseBufferFloats];
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t c0 = b * block, c1 = std::min(channels, c0 + block);
      for (std::int64_t c = c0; c < c1; ++c)
        detail::channel_rows_by_phases(g, pt, input + c * plane, buffer + detail::phase_margin(g),
                                       rows + (c - c0) * taps * pixels);
      gemm_a_packing<simd>::pack_transposed(rows, pixels, pixels, (c1 - c0) * taps, tiles + c0 * taps * kRows,
                                            kRows * depth);
    }
  });
}

/**
 * @brief The convolution with its pixels as the GEMM's rows (pixel_rows_apply), image by image:
 * A is the input itself for a 1x1 stride-1 unpadded convolution, else its columns matrix written
 * out (k x pixels, at most 14 x 14 pixels: about 1.8 MB for ResNet-50's widest); B is the packed
 * weight; C, scratch, holds the transposed output's partial sums when the depth takes several k
 * blocks, and the finished tiles go to the output (pixel_rows_sink).
 */
inline void conv2d_pixel_rows(cpu_context& ctx, const conv2d_op& op) {
  const std::int64_t depth = op.c_in * op.kh * op.kw, pixels = op.out_h * op.out_w, in_plane = op.h * op.w;
  const bool direct =
      op.kh == 1 && op.kw == 1 && op.stride_h == 1 && op.stride_w == 1 && op.pad_h == 0 && op.pad_w == 0;
  const detail::window_geometry g = detail::geometry_of(op);
  const std::int64_t ld = pixel_rows_stride(op.c_out);
  const bool into_tiles = !direct && columns_into_tiles_applies(g);
  const std::int64_t tiles = detail::ceil_div(pixels, gemm_blocking::kRows);
  scratch_frame frame(ctx);
  float* cols =
      direct ? nullptr : frame.take<float>(into_tiles ? tiles * gemm_blocking::kRows * depth : depth * pixels);
  float* partial_sums = frame.take<float>(pixels * ld);  // untouched when the depth is one k block
  for (std::int64_t b = 0; b < op.n; ++b) {
    const float* in = op.input + b * op.c_in * in_plane;
    if (into_tiles)
      columns_into_tiles(ctx, g, op.c_in, in, cols);
    else if (!direct)
      detail::im2col(ctx, g, op.c_in, in, cols);
    gemm_op gemm{.m = pixels,
                 .n = op.c_out,
                 .k = depth,
                 .a = direct ? in : cols,
                 .lda = into_tiles ? depth : pixels,
                 .b = op.packed_weight,
                 .ldb = 0,
                 .trans_b = false,
                 .c = partial_sums,
                 .ldc = ld,
                 .alpha = 1.f,
                 .ep = {}};
    gemm.b_panel_width = gemm_blocking::kPanel;
    gemm.trans_a = !into_tiles;
    gemm.a_packed = into_tiles;
    const std::int64_t offset = b * op.c_out * pixels;
    const pixel_rows_output target{&op, op.ep.residual ? op.ep.residual + offset : nullptr, op.output + offset};
    gemm.tile_sink = &pixel_rows_sink;
    gemm.sink_target = &target;
    kernel<gemm_op, simd>::run(ctx, gemm);
  }
}

}  // namespace joule::simd_detail
