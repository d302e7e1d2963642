#pragma once
/**
 * @file conv2d_winograd.hpp
 * @brief simd conv2d by Winograd's F(2x2, 3x3) for 3x3, stride-1, "same"-padded convolutions whose
 * weight was transformed ahead (ops::pack_conv2d_weight with conv2d_packing::winograd_3x3).
 *
 * Each 2 x 2 block of output pixels (a tile) of one output channel is
 *
 *     Y = A^T [ sum over input channels c of (G g_c G^T) ⊙ (B^T d_c B) ] A
 *
 * with d_c the 4 x 4 input patch around the tile (padding included) and g_c the 3 x 3 filter. The
 * sum over c, for each of the 16 elements ξ of the 4 x 4 transformed tile, is a GEMM: M_ξ [c_out,
 * tiles] = U_ξ [c_out, c_in] · V_ξ [c_in, tiles], U the transformed weight (packed at compile),
 * V the transformed input. 16 GEMMs of depth c_in replace the 9 · c_in deep im2col GEMM over 4x as
 * many columns: 16 multiply-adds per tile and channel pair instead of 36, 2.25x fewer. The
 * transforms are additions and subtractions only (B and A hold 0 and ±1; G's halves are in U).
 *
 * The work goes in chunks of whole rows of tiles, small enough that a chunk's V and M stay in the
 * outer caches: transform the chunk's input (all channels), run the 16 GEMMs on the packed kernel
 * (simd_detail::gemm_block, one thread each), transform back with the bias, residual and
 * activation while writing the output. Two threads split the rows of tiles, or, when there are too
 * few tiles for two (ResNet-50's 7 x 7 layers at batch 1: 16 tiles), the output channels.
 *
 * Numerically, each stage's roundings are relative to the absolute values of the transformed
 * operands, which count products that cancel in exact arithmetic: the error is bounded by
 * gamma(c_in + 8) times that magnitude, not by the direct sum's sum |w x|. The conformance test
 * checks every output against the double-precision reference within that bound
 * (winograd_magnitude in tests/ops/conv2d_cases.hpp); ResNet-50's golden test against PyTorch
 * passes as before.
 */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/gemm.hpp>
#include <joule/policy/simd/vector_math.hpp>
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace joule {

/** @brief The simd conv2d runs 3x3 stride-1 convolutions by Winograd F(2x2, 3x3) (conv2d_winograd.hpp). */
template <>
inline constexpr bool conv2d_runs_winograd<simd> = true;

namespace simd_detail {

/** @brief Whether a convolution runs by Winograd here: a weight transformed ahead, a 3x3 stride-1 "same" window. */
inline bool winograd_applies(const conv2d_op& op) noexcept {
  return op.winograd_weight != nullptr && op.groups == 1 && op.kh == 3 && op.kw == 3 && op.stride_h == 1 &&
         op.stride_w == 1 && op.dil_h == 1 && op.dil_w == 1 && op.pad_h == 1 && op.pad_w == 1;
}

/** @brief The 1-D input transform B^T x of F(2x2, 3x3) on four neighbouring values. */
[[gnu::always_inline]] inline void winograd_input_1d(batch x0, batch x1, batch x2, batch x3, batch* out,
                                                     std::int64_t step) noexcept {
  out[0 * step] = x0 - x2;
  out[1 * step] = x1 + x2;
  out[2 * step] = x2 - x1;
  out[3 * step] = x1 - x3;
}

/**
 * @brief Lanes a0 b0 a1 b1 ... of the first halves of @p a and @p b (Low) or of their second halves:
 * a true zip across the whole vector. xsimd 8's zip_lo/zip_hi interleave within each 128-bit lane
 * on AVX and AVX-512, which is not the same thing.
 */
template <bool Low>
[[gnu::always_inline]] inline batch interleave(batch a, batch b) noexcept {
#if defined(__AVX512F__)
  const __m512i index = Low ? _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
                            : _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  return _mm512_permutex2var_ps(a, index, b);
#elif defined(__AVX__)
  const __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);  // per 128-bit lane
  return Low ? _mm256_permute2f128_ps(lo, hi, 0x20) : _mm256_permute2f128_ps(lo, hi, 0x31);
#else
  return Low ? xsimd::zip_lo(a, b) : xsimd::zip_hi(a, b);  // one 128-bit lane: already a true zip
#endif
}

/** @brief How a call is cut into chunks of tile rows and shared between threads. */
struct winograd_plan {
  std::int64_t tiles_h = 0, tiles_w = 0;  ///< tiles per image along h and w
  std::int64_t tile_rows = 0;             ///< n · tiles_h: the rows of tiles of every image
  std::int64_t rows_per_chunk = 0;        ///< tile rows transformed and multiplied at once
  std::int64_t ld = 0;                    ///< row stride of V and M: a chunk's tiles plus a vector of slack
  std::int64_t c_out_rows = 0;            ///< c_out rounded up to the GEMM's row tiles (the packed U's rows)
  bool split_channels = false;            ///< threads split the output channels, not the tile rows
  int threads = 1;

  // Every piece of a thread's scratch a whole number of cache lines, so that each starts aligned
  // (gemm_block's packed B is stored with aligned stores).
  std::int64_t v_floats(std::int64_t c_in) const noexcept { return lines(16 * c_in * ld); }
  std::int64_t m_floats() const noexcept { return lines(16 * c_out_rows * ld); }
  static constexpr std::int64_t lines(std::int64_t floats) noexcept { return (floats + 15) / 16 * 16; }
};

inline winograd_plan plan_winograd(const cpu_context& ctx, const conv2d_op& op) {
  using blk = gemm_blocking;
  using detail::ceil_div;
  winograd_plan plan;
  plan.tiles_h = ceil_div(op.out_h, 2);
  plan.tiles_w = ceil_div(op.out_w, 2);
  plan.tile_rows = op.n * plan.tiles_h;
  plan.c_out_rows = ceil_div(op.c_out, blk::kRows) * blk::kRows;
  const std::int64_t tiles = plan.tile_rows * plan.tiles_w;
  const std::int64_t flops = 2 * 16 * op.c_out * op.c_in * tiles;
  plan.threads = flops < 400000 ? 1 : ctx.threads();
  // The busiest thread's multiply-add lanes either way: its whole panels of tiles times all the
  // channels, or all the panels times its row tiles of channels.
  const int t = plan.threads;
  const std::int64_t row_tiles = plan.c_out_rows / blk::kRows;
  const double by_rows = static_cast<double>(ceil_div(ceil_div(plan.tile_rows, t) * plan.tiles_w, blk::kPanel)) *
                         static_cast<double>(plan.c_out_rows);
  const double by_channels =
      static_cast<double>(ceil_div(tiles, blk::kPanel)) * static_cast<double>(ceil_div(row_tiles, t) * blk::kRows);
  plan.split_channels = t > 1 && by_channels < by_rows;
  // A chunk's V and M (16 floats per tile for each input and each output channel) in about 2 MB,
  // but at least 96 tiles, so that a chunk's GEMMs reuse each weight element over 3 panels. On
  // ResNet-50's 3x3 layers at 16 images (Zen 5), 2 MB beat 0.5, 1, 4 and 8 MB by 2-20%.
  constexpr std::int64_t kChunkBytes = std::int64_t{2} << 20, kMinChunkTiles = 96;
  const std::int64_t per_tile = 16 * (op.c_in + plan.c_out_rows) * static_cast<std::int64_t>(sizeof(float));
  const std::int64_t chunk_tiles = std::max(kMinChunkTiles, kChunkBytes / per_tile);
  const std::int64_t my_rows = plan.split_channels ? plan.tile_rows : ceil_div(plan.tile_rows, t);
  plan.rows_per_chunk = std::clamp<std::int64_t>(chunk_tiles / plan.tiles_w, 1, my_rows);
  plan.ld = plan.rows_per_chunk * plan.tiles_w + kLanes;
  return plan;
}

/**
 * @brief The lanes of row[start, start + count) that fall on the row [0, width), the others 0,
 * for count <= kLanes: the tiles' windows overhang the plane by the padding on either side.
 */
[[gnu::always_inline]] inline batch load_row_part(const float* row, std::int64_t width, std::int64_t start,
                                                  std::int64_t count) noexcept {
  const std::int64_t lo = std::max<std::int64_t>(0, -start), hi = std::min(count, width - start);
  if (lo == 0 && hi == kLanes) return batch::load_unaligned(row + start);
  if (hi <= lo) return batch(0.f);
  const std::uint32_t below_hi = hi >= 32 ? ~0u : (1u << hi) - 1u;
  return load_lanes(row + start, below_hi & ~((1u << lo) - 1u));
}

/**
 * @brief Row @p y of the 4 x 4 input patches of kLanes neighbouring tiles, first tile x0: d[b]
 * lane l = input(y, 2 (x0 + l) - 1 + b), 0 off the plane. With AVX-512, three loads of the row and
 * four permutes split it into its even and odd columns; otherwise lane by lane.
 */
[[gnu::always_inline]] inline void winograd_patch_row(const conv2d_op& op, const float* plane, std::int64_t y,
                                                      std::int64_t x0, batch (&d)[4]) noexcept {
  if (y < 0 || y >= op.h) {
    for (batch& v : d) v = batch(0.f);
    return;
  }
  const float* row = plane + y * op.w;
  const std::int64_t base = 2 * x0 - 1;  // column of lane 0's first tap
#if defined(__AVX512F__)
  static_assert(kLanes == 16);
  const __m512 l0 = load_row_part(row, op.w, base, 16), l1 = load_row_part(row, op.w, base + 16, 16);
  const __m512 l2 = load_row_part(row, op.w, base + 32, 2);  // the last tile's columns 3 and 4
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 e = _mm512_permutex2var_ps(l0, even, l1), o = _mm512_permutex2var_ps(l0, odd, l1);
  // Columns 2 and 3 are columns 0 and 1 one tile on: the vectors shifted down a lane, the next
  // row part's first two floats shifted in.
  const __m512i tail_e = _mm512_castps_si512(l2);
  const __m512i tail_o = _mm512_alignr_epi32(_mm512_setzero_si512(), tail_e, 1);
  d[0] = e;
  d[1] = o;
  d[2] = _mm512_castsi512_ps(_mm512_alignr_epi32(tail_e, _mm512_castps_si512(e), 1));
  d[3] = _mm512_castsi512_ps(_mm512_alignr_epi32(tail_o, _mm512_castps_si512(o), 1));
#else
  alignas(64) float lanes[4][kLanes];
  for (std::int64_t l = 0; l < kLanes; ++l)
    for (int b = 0; b < 4; ++b) {
      const std::int64_t x = base + 2 * l + b;
      lanes[b][l] = x >= 0 && x < op.w ? row[x] : 0.f;
    }
  for (int b = 0; b < 4; ++b) d[b] = batch::load_aligned(lanes[b]);
#endif
}

/**
 * @brief V for tile rows [r0, r1) of input channel @p c: V_ξ[c, tile] for the 16 ξ, tile counted
 * from r0's first, kLanes tiles of a row at a time.
 */
inline void winograd_input_channel(const conv2d_op& op, const winograd_plan& plan, std::int64_t c, std::int64_t r0,
                                   std::int64_t r1, float* v) noexcept {
  const std::int64_t tw = plan.tiles_w, xi_stride = op.c_in * plan.ld;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t image = r / plan.tiles_h, ty = r % plan.tiles_h;
    const float* plane = op.input + (image * op.c_in + c) * op.h * op.w;
    float* dst = v + c * plan.ld + (r - r0) * tw;
    // The next channel's rows for this tile row, fetched while this one's are transformed: a
    // channel's rows of a chunk are a short run each, too short for the hardware prefetcher to
    // follow from one channel to the next.
    if (c + 1 < op.c_in) {
      const std::int64_t y0 = std::max<std::int64_t>(0, 2 * ty - 1), y1 = std::min(op.h, 2 * ty + 3);
      const char* first = reinterpret_cast<const char*>(plane + op.h * op.w + y0 * op.w);
      const char* last = reinterpret_cast<const char*>(plane + op.h * op.w + y1 * op.w);
      for (const char* line = first; line < last; line += 64) __builtin_prefetch(line, 0, 3);
    }
    for (std::int64_t x0 = 0; x0 < tw; x0 += kLanes) {
      batch h[4][4];  // h[a][j]: row a of the patch through B, column j
#pragma GCC unroll 4
      for (int a = 0; a < 4; ++a) {
        batch d[4];
        winograd_patch_row(op, plane, 2 * ty - 1 + a, x0, d);
        winograd_input_1d(d[0], d[1], d[2], d[3], h[a], 1);
      }
      batch out[16];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) winograd_input_1d(h[0][j], h[1][j], h[2][j], h[3][j], out + j, 4);
        // Whole vectors: lanes past the row's tiles (zeros) land on the next row's, stored after, or
        // on the slack at the end of the chunk.
#pragma GCC unroll 16
      for (int xi = 0; xi < 16; ++xi) out[xi].store_unaligned(dst + xi * xi_stride + x0);
    }
  }
}

/**
 * @brief Output channel @p k of tile rows [r0, r1) from M: Y = A^T M A per tile, with the bias,
 * residual and activation, each tile row's two output rows written a row at a time (the tiles'
 * left and right columns interleaved).
 */
inline void winograd_output_channel(const conv2d_op& op, const winograd_plan& plan, std::int64_t k, std::int64_t r0,
                                    std::int64_t r1, const float* m) noexcept {
  const std::int64_t tw = plan.tiles_w, xi_stride = plan.c_out_rows * plan.ld;
  const float bias = op.ep.bias ? op.ep.bias[k] : 0.f;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t image = r / plan.tiles_h, ty = r % plan.tiles_h;
    const std::int64_t plane = (image * op.c_out + k) * op.out_h * op.out_w;
    const float* src = m + k * plan.ld + (r - r0) * tw;
    for (std::int64_t x0 = 0; x0 < tw; x0 += kLanes) {
      batch s[4][2];  // s[i][b]: row i of the tile through A, column b
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        const batch m0 = batch::load_unaligned(src + (4 * i + 0) * xi_stride + x0);
        const batch m1 = batch::load_unaligned(src + (4 * i + 1) * xi_stride + x0);
        const batch m2 = batch::load_unaligned(src + (4 * i + 2) * xi_stride + x0);
        const batch m3 = batch::load_unaligned(src + (4 * i + 3) * xi_stride + x0);
        s[i][0] = m0 + m1 + m2;
        s[i][1] = m1 - m2 - m3;
      }
      const std::int64_t x = 2 * x0, columns = std::min(2 * kLanes, op.out_w - x);
      for (int a = 0; a < 2; ++a) {
        const std::int64_t y = 2 * ty + a;
        if (y >= op.out_h) break;
        const batch left = a == 0 ? s[0][0] + s[1][0] + s[2][0] : s[1][0] - s[2][0] - s[3][0];
        const batch right = a == 0 ? s[0][1] + s[1][1] + s[2][1] : s[1][1] - s[2][1] - s[3][1];
        const std::int64_t at = plane + y * op.out_w + x;
        const float* residual = op.ep.residual ? op.ep.residual + at : nullptr;
        store_conv_lanes(interleave<true>(left, right), bias, residual, op.ep.act, op.output + at,
                         std::min(kLanes, columns));
        if (columns > kLanes)
          store_conv_lanes(interleave<false>(left, right), bias, residual ? residual + kLanes : nullptr, op.ep.act,
                           op.output + at + kLanes, columns - kLanes);
      }
    }
  }
}

/** @brief Tile rows [r0, r1), output channels [k0, k1) (k0 on a row tile), on one thread. */
inline void winograd_rows(const conv2d_op& op, const winograd_plan& plan, std::int64_t r0, std::int64_t r1,
                          std::int64_t k0, std::int64_t k1, float* v, float* m, float* packed) {
  const std::int64_t u_stride = plan.c_out_rows * op.c_in;  // floats per ξ of the packed U
  for (std::int64_t c0 = r0; c0 < r1; c0 += plan.rows_per_chunk) {
    const std::int64_t c1 = std::min(r1, c0 + plan.rows_per_chunk);
    for (std::int64_t c = 0; c < op.c_in; ++c) winograd_input_channel(op, plan, c, c0, c1, v);
    for (int xi = 0; xi < 16; ++xi) {
      gemm_op g;
      g.m = op.c_out;
      g.n = (c1 - c0) * plan.tiles_w;
      g.k = op.c_in;
      g.a = op.winograd_weight + xi * u_stride;
      g.a_packed = true;
      g.b = v + xi * op.c_in * plan.ld;
      g.ldb = plan.ld;
      g.c = m + xi * plan.c_out_rows * plan.ld;
      g.ldc = plan.ld;
      gemm_block(g, k0, k1, 0, g.n, packed);
    }
    for (std::int64_t k = k0; k < k1; ++k) winograd_output_channel(op, plan, k, c0, c1, m);
  }
}

/** @brief The convolution by F(2x2, 3x3) (winograd_applies). */
inline void winograd_conv2d(cpu_context& ctx, const conv2d_op& op) {
  using blk = gemm_blocking;
  const winograd_plan plan = plan_winograd(ctx, op);
  const std::int64_t per_thread = plan.v_floats(op.c_in) + plan.m_floats() + blk::kKc * blk::kNc;
  scratch_frame frame(ctx);
  float* scratch = frame.take<float>(plan.threads * per_thread);
  auto body = [&](int t) {
    float* v = scratch + t * per_thread;
    float* m = v + plan.v_floats(op.c_in);
    float* packed = m + plan.m_floats();
    const std::int64_t row_tiles = plan.c_out_rows / blk::kRows;
    if (plan.split_channels) {
      const std::int64_t k0 = row_tiles * t / plan.threads * blk::kRows;
      const std::int64_t k1 = std::min(op.c_out, row_tiles * (t + 1) / plan.threads * blk::kRows);
      if (k0 < k1) winograd_rows(op, plan, 0, plan.tile_rows, k0, k1, v, m, packed);
    } else {
      const std::int64_t r0 = plan.tile_rows * t / plan.threads, r1 = plan.tile_rows * (t + 1) / plan.threads;
      if (r0 < r1) winograd_rows(op, plan, r0, r1, 0, op.c_out, v, m, packed);
    }
  };
  if (plan.threads == 1)
    body(0);
  else
    ctx.pool().run([&](int t) {
      if (t < plan.threads) body(t);
    });
}

}  // namespace simd_detail
}  // namespace joule
