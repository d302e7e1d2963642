#pragma once
/**
 * @file conv2d_winograd.hpp
 * @brief simd conv2d by Winograd's F(2x2, 3x3) or F(4x4, 3x3) for 3x3, stride-1, "same"-padded
 * convolutions whose weight was transformed ahead (ops::pack_conv2d_weight with
 * conv2d_packing::winograd_3x3 or winograd_4x4_3x3).
 *
 * Each T x T block of output pixels (a tile, T = 2 or 4) of one output channel is
 *
 *     Y = A^T [ sum over input channels c of (G g_c G^T) ⊙ (B^T d_c B) ] A
 *
 * with d_c the (T + 2) x (T + 2) input patch around the tile (padding included) and g_c the 3 x 3
 * filter. The sum over c, for each of the (T + 2)^2 elements ξ of the transformed tile, is a GEMM:
 * M_ξ [c_out, tiles] = U_ξ [c_out, c_in] · V_ξ [c_in, tiles], U the transformed weight (packed at
 * compile), V the transformed input. F(2x2, 3x3) takes 16 multiply-adds per tile and channel pair
 * for 4 outputs (36 directly, 2.25x fewer), F(4x4, 3x3) 36 for 16 outputs (144 directly, 4x fewer).
 * F(2x2, 3x3)'s transforms are additions only (B and A hold 0 and ±1; G's halves are in U);
 * F(4x4, 3x3)'s hold 2, 4, 5 and 8 as well, and its rounding errors are larger (below).
 *
 * The work goes in chunks of whole rows of tiles, small enough that a chunk's V and M stay in the
 * outer caches: transform the chunk's input (all channels), run the 16 GEMMs on the packed kernel
 * (simd_detail::gemm_block, one thread each), transform back with the bias, residual and
 * activation while writing the output. Two threads split the rows of tiles, or, when there are too
 * few tiles for two (ResNet-50's 7 x 7 layers at batch 1: 16 tiles), the output channels, each
 * thread a share sized by its measured speed (thread_pool::run_shares).
 *
 * Numerically, each stage's roundings are relative to the absolute values of the transformed
 * operands, which count products that cancel in exact arithmetic: the error is bounded by
 * gamma(c_in + 8) (F(2x2, 3x3)) or gamma(c_in + 16) (F(4x4, 3x3)) times that magnitude, not by
 * the direct sum's sum |w x|; F(4x4, 3x3)'s magnitudes are larger too, its transforms' entries
 * reaching 8. The conformance test checks every output against the double-precision reference
 * within that bound (winograd_magnitude in tests/ops/conv2d_cases.hpp); ResNet-50's golden test
 * against PyTorch passes with either.
 */
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include <joule/core/context.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/gemm.hpp>
#include <joule/policy/simd/row_taps.hpp>
#include <joule/policy/simd/vector_math.hpp>
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace joule {

/** @brief The simd conv2d runs 3x3 stride-1 convolutions by Winograd F(2x2, 3x3) or F(4x4, 3x3) (conv2d_winograd.hpp).
 */
template <>
inline constexpr bool conv2d_runs_winograd<simd> = true;

namespace simd_detail {

/** @brief Whether a convolution runs by Winograd here: a weight transformed ahead, a 3x3 stride-1 "same" window. */
inline bool winograd_applies(const conv2d_op& op) noexcept {
  return op.winograd_weight != nullptr && (op.winograd_tile == 2 || op.winograd_tile == 4) && op.groups == 1 &&
         op.kh == 3 && op.kw == 3 && op.stride_h == 1 && op.stride_w == 1 && op.dil_h == 1 && op.dil_w == 1 &&
         op.pad_h == 1 && op.pad_w == 1;
}

/** @brief The input transform's side: F(T x T, 3x3) reads (T + 2) x (T + 2) patches. */
template <int Tile>
inline constexpr int winograd_alpha = Tile + 2;

/**
 * @brief The 1-D input transform B^T x of F(Tile, 3) on Tile + 2 neighbouring values, written to
 * out[0], out[step], ...
 */
template <int Tile>
[[gnu::always_inline]] inline void winograd_input_1d(const batch* x, batch* out, std::int64_t step) noexcept {
  if constexpr (Tile == 2) {
    out[0 * step] = x[0] - x[2];
    out[1 * step] = x[1] + x[2];
    out[2 * step] = x[2] - x[1];
    out[3 * step] = x[1] - x[3];
  } else {
    // B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
    // (points 0, ±1, ±2 and infinity), its middle rows sharing two sums each.
    const batch four(4.f), five(5.f), two(2.f);
    const batch a = xsimd::fnma(four, x[2], x[4]), b = xsimd::fnma(four, x[1], x[3]);  // x4 - 4 x2, x3 - 4 x1
    const batch c = x[4] - x[2], d = two * (x[3] - x[1]);
    out[0 * step] = xsimd::fma(four, x[0], xsimd::fnma(five, x[2], x[4]));
    out[1 * step] = a + b;
    out[2 * step] = a - b;
    out[3 * step] = c + d;
    out[4 * step] = c - d;
    out[5 * step] = xsimd::fma(four, x[1], xsimd::fnma(five, x[3], x[5]));
  }
}

/** @brief The 1-D output transform A^T m of F(Tile, 3): Tile values from Tile + 2, m[0], m[step], ... */
template <int Tile>
[[gnu::always_inline]] inline void winograd_output_1d(const batch* m, std::int64_t step, batch* y) noexcept {
  if constexpr (Tile == 2) {
    y[0] = m[0] + m[step] + m[2 * step];
    y[1] = m[step] - m[2 * step] - m[3 * step];
  } else {
    // A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
    const batch a = m[step] + m[2 * step], b = m[step] - m[2 * step];
    const batch c = m[3 * step] + m[4 * step], d = m[3 * step] - m[4 * step];
    y[0] = m[0] + a + c;
    y[1] = xsimd::fma(batch(2.f), d, b);
    y[2] = xsimd::fma(batch(4.f), c, a);
    y[3] = xsimd::fma(batch(8.f), d, b) + m[5 * step];
  }
}

/** @brief B^T d B's second pass: the columns of h (h[a][j]: row a of the patches through B, column j) through B. */
template <int Tile>
[[gnu::always_inline]] inline void winograd_input_columns(const batch (&h)[Tile + 2][Tile + 2],
                                                          batch (&out)[(Tile + 2) * (Tile + 2)]) noexcept {
  constexpr int alpha = Tile + 2;
#pragma GCC unroll 6
  for (int j = 0; j < alpha; ++j) {
    batch column[alpha];
#pragma GCC unroll 6
    for (int a = 0; a < alpha; ++a) column[a] = h[a][j];
    winograd_input_1d<Tile>(column, out + j, alpha);
  }
}

/**
 * @brief Y = A^T M A for the tiles of a vector: M_ξ's vector at src + ξ · xi_stride; y[b][a] is
 * output row a, column b of each tile.
 */
template <int Tile>
[[gnu::always_inline]] inline void winograd_output_tiles(const float* src, std::int64_t xi_stride,
                                                         batch (&y)[Tile][Tile]) noexcept {
  constexpr int alpha = Tile + 2;
  batch s[alpha][Tile];  // s[i][b]: row i of the tiles through A, column b
#pragma GCC unroll 6
  for (int i = 0; i < alpha; ++i) {
    batch row[alpha];
#pragma GCC unroll 6
    for (int j = 0; j < alpha; ++j) row[j] = batch::load_unaligned(src + (alpha * i + j) * xi_stride);
    winograd_output_1d<Tile>(row, 1, s[i]);
  }
#pragma GCC unroll 4
  for (int b = 0; b < Tile; ++b) {
    batch column[alpha];
#pragma GCC unroll 6
    for (int i = 0; i < alpha; ++i) column[i] = s[i][b];
    winograd_output_1d<Tile>(column, 1, y[b]);
  }
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
  int tile = 2;                           ///< T of F(T x T, 3x3)
  std::int64_t xis = 16;                  ///< (T + 2)^2: the transformed tile's elements, one GEMM each
  std::int64_t tiles_h = 0, tiles_w = 0;  ///< tiles per image along h and w
  std::int64_t tile_rows = 0;             ///< n · tiles_h: the rows of tiles of every image
  std::int64_t rows_per_chunk = 0;        ///< tile rows transformed and multiplied at once
  std::int64_t ld = 0;                    ///< row stride of V and M: a chunk's tiles plus a vector of slack
  std::int64_t c_out_rows = 0;            ///< c_out rounded up to the GEMM's row tiles (the packed U's rows)
  bool split_channels = false;            ///< threads split the output channels, not the tile rows
  int threads = 1;

  // Every piece of a thread's scratch a whole number of cache lines, so that each starts aligned
  // (gemm_block's packed B is stored with aligned stores).
  std::int64_t v_floats(std::int64_t c_in) const noexcept { return lines(xis * c_in * ld); }
  std::int64_t m_floats() const noexcept { return lines(xis * c_out_rows * ld); }
  static constexpr std::int64_t lines(std::int64_t floats) noexcept { return (floats + 15) / 16 * 16; }
};

/**
 * @brief Tile rows per chunk near @p target (within a half of it either way, at most @p my_rows and
 * @p max_rows) that leave the fewest panel columns empty over a thread's @p my_rows rows: each
 * chunk's GEMMs round its tiles up to whole panels (32 columns). ResNet-50's 56 x 56 layers have
 * 14 tiles of 4 x 4 a row: chunks of 7 rows, 98 tiles, filled 98 of 4 panels' 128 columns; chunks
 * of 9 fill 126.
 */
inline std::int64_t winograd_chunk_rows(std::int64_t target, std::int64_t my_rows, std::int64_t tiles_w,
                                        std::int64_t max_rows) noexcept {
  using detail::ceil_div;
  constexpr std::int64_t kPanel = gemm_blocking::kPanel;
  auto panels = [&](std::int64_t rows) {
    const std::int64_t whole = my_rows / rows, rest = my_rows % rows;
    return whole * ceil_div(rows * tiles_w, kPanel) + ceil_div(rest * tiles_w, kPanel);
  };
  target = std::clamp<std::int64_t>(target, 1, max_rows);
  std::int64_t best = target;
  for (std::int64_t rows = std::max<std::int64_t>(1, target / 2);
       rows <= std::min({my_rows, target + target / 2, max_rows}); ++rows)
    if (panels(rows) < panels(best) ||
        (panels(rows) == panels(best) && std::abs(rows - target) < std::abs(best - target)))
      best = rows;
  return best;
}

inline winograd_plan plan_winograd(const cpu_context& ctx, const conv2d_op& op) {
  using blk = gemm_blocking;
  using detail::ceil_div;
  winograd_plan plan;
  plan.tile = static_cast<int>(op.winograd_tile);
  plan.xis = (plan.tile + 2) * (plan.tile + 2);
  plan.tiles_h = ceil_div(op.out_h, plan.tile);
  plan.tiles_w = ceil_div(op.out_w, plan.tile);
  plan.tile_rows = op.n * plan.tiles_h;
  plan.c_out_rows = ceil_div(op.c_out, blk::kRows) * blk::kRows;
  const std::int64_t tiles = plan.tile_rows * plan.tiles_w;
  const std::int64_t flops = 2 * plan.xis * op.c_out * op.c_in * tiles;
  plan.threads = flops < 400000 ? 1 : ctx.threads();
  // The busiest thread's multiply-add lanes either way: its whole panels of tiles times all the
  // channels, or all the panels times its row tiles of channels. Split by channels, each thread
  // transforms every tile's input, not its share, and the row tiles of channels split unevenly
  // (ResNet-50's 64 channels: 36 and 28), so the channels must save kChannelsMargin: on ResNet-50's
  // 56 x 56 layers at batch 1 they counted 252 lanes against 288, yet split by rows (7 rows of tiles
  // each) the layers took 0.38-0.51 ms against 0.55-0.63, and the model 0.983 of the time
  // (scripts/ab-models.sh, Zen 5, five runs of 20 rounds: 0.973 to 0.999).
  constexpr double kChannelsMargin = 0.85;
  const int t = plan.threads;
  const std::int64_t row_tiles = plan.c_out_rows / blk::kRows;
  const double by_rows = static_cast<double>(ceil_div(ceil_div(plan.tile_rows, t) * plan.tiles_w, blk::kPanel)) *
                         static_cast<double>(plan.c_out_rows);
  const double by_channels =
      static_cast<double>(ceil_div(tiles, blk::kPanel)) * static_cast<double>(ceil_div(row_tiles, t) * blk::kRows);
  plan.split_channels = t > 1 && by_channels < kChannelsMargin * by_rows;
  // A chunk's V and M (xis floats per tile for each input and each output channel) in about 2 MB,
  // but at least 96 tiles, so that a chunk's GEMMs reuse each weight element over 3 panels. On
  // ResNet-50's 3x3 layers at 16 images (Zen 5, F(2x2, 3x3)), 2 MB beat 0.5, 1, 4 and 8 MB by 2-20%.
  constexpr std::int64_t kChunkBytes = std::int64_t{2} << 20, kMinChunkTiles = 96;
  const std::int64_t per_tile = plan.xis * (op.c_in + plan.c_out_rows) * static_cast<std::int64_t>(sizeof(float));
  const std::int64_t chunk_tiles = std::max(kMinChunkTiles, kChunkBytes / per_tile);
  // Threads take rows of tiles in proportion to their measured speeds (thread_pool::run_shares), so
  // a thread's rows may run past an equal share: a chunk may hold a quarter of a share more.
  const std::int64_t equal_rows = plan.split_channels ? plan.tile_rows : ceil_div(plan.tile_rows, t);
  const std::int64_t my_rows = std::min(plan.tile_rows, equal_rows + equal_rows / 4);
  plan.rows_per_chunk = winograd_chunk_rows(chunk_tiles / plan.tiles_w, my_rows, plan.tiles_w, my_rows);
  plan.ld = plan.rows_per_chunk * plan.tiles_w + kLanes;
  return plan;
}

/**
 * @brief Fetches rows [y, y + rows) of the plane after @p plane (the next input channel's), clipped
 * to the plane, while this channel's patches are transformed: a channel's rows of a chunk are a
 * short run each, too short for the hardware prefetcher to follow from one channel to the next.
 */
inline void prefetch_next_channel_rows(const conv2d_op& op, const float* plane, std::int64_t y,
                                       std::int64_t rows) noexcept {
  const std::int64_t y0 = std::max<std::int64_t>(0, y), y1 = std::min(op.h, y + rows);
  const float* next = plane + op.h * op.w;
  const char* first = reinterpret_cast<const char*>(next + y0 * op.w);
  const char* last = reinterpret_cast<const char*>(next + y1 * op.w);
  for (const char* line = first; line < last; line += 64) __builtin_prefetch(line, 0, 3);
}

#if defined(__AVX512F__)
/**
 * @brief Tiles a row up to which the transforms take two rows of tiles a vector: F(2x2, 3x3)'s
 * 2 · 7 + 2 columns fill one vector, F(4x4, 3x3)'s 4 · 7 + 2 two, and 2 · 7 tiles fill 14 of 16
 * lanes. ResNet-50's 14 x 14 planes (F(2x2, 3x3)) and 28 x 28 ones (F(4x4, 3x3)) have 7 tiles a
 * row: one row of tiles a vector filled 7 of 16 lanes, and the transforms, which took as long as
 * the GEMMs between them, ran once per 7 tiles.
 */
inline constexpr std::int64_t kPairedTilesW = (kLanes - 2) / 2;

/** @brief The permute index first, first + 1, ..., first + 15: 16 lanes of two vectors from lane @p first. */
inline __m512i lanes_from(std::int64_t first) noexcept {
  return _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(first)),
                          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/**
 * @brief F(Tile x Tile, 3x3)'s taps for two rows of tiles in one vector, on planes of at most
 * kPairedTilesW tiles a row: d[b] lanes [0, tw) are row ya of plane_a's taps b (as row_taps<Tile>),
 * lanes [tw, 2 tw) row yb's of plane_b. F(2x2, 3x3) loads columns -1 .. 14 of each row and deals
 * both out with one permute a tap; F(4x4, 3x3) loads columns -1 .. 30 of each (two vectors), a
 * permute of each row and a blend a tap.
 */
template <int Tile>
struct paired_taps {
  /// Per tap: lane l's column in its row's loads (F(2x2, 3x3): the second row's from 16).
  __m512i index[Tile + 2] = {};
  __mmask16 second_row = 0;  ///< lanes [tw, 2 tw)

  explicit paired_taps(std::int64_t tw) noexcept {
    alignas(64) std::int32_t lanes[kLanes];
    for (int b = 0; b < Tile + 2; ++b) {
      for (std::int64_t l = 0; l < kLanes; ++l) {
        const std::int64_t tile = l < tw ? l : l - tw, column = Tile * tile + b;
        lanes[l] = static_cast<std::int32_t>(l >= 2 * tw ? 0 : Tile == 2 && l >= tw ? kLanes + column : column);
      }
      index[b] = _mm512_load_si512(lanes);
    }
    second_row = static_cast<__mmask16>(((1u << (2 * tw)) - 1u) & ~((1u << tw) - 1u));
  }

  [[gnu::always_inline]] void operator()(const conv2d_op& op, const float* plane_a, std::int64_t ya,
                                         const float* plane_b, std::int64_t yb, batch (&d)[Tile + 2]) const noexcept {
    // Columns -1 .. 16 · vectors - 2 of a row, zeros off the plane (the padding).
    const auto load = [&](const float* plane, std::int64_t y, int vector) {
      return y >= 0 && y < op.h ? __m512(load_row_part(plane + y * op.w, op.w, vector * kLanes - 1, kLanes))
                                : _mm512_setzero_ps();
    };
    if constexpr (Tile == 2) {
      const __m512 a = load(plane_a, ya, 0), b = load(plane_b, yb, 0);
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) d[t] = _mm512_permutex2var_ps(a, index[t], b);
    } else {
      const __m512 a_low = load(plane_a, ya, 0), a_high = load(plane_a, ya, 1);
      const __m512 b_low = load(plane_b, yb, 0), b_high = load(plane_b, yb, 1);
#pragma GCC unroll 6
      for (int t = 0; t < 6; ++t)
        d[t] = _mm512_mask_blend_ps(second_row, _mm512_permutex2var_ps(a_low, index[t], a_high),
                                    _mm512_permutex2var_ps(b_low, index[t], b_high));
    }
  }
};

/**
 * @brief winograd_input_channel's rows two at a time (tiles_w <= kPairedTilesW, paired_taps):
 * tile rows r0, r0 + 1, ... up to the last pair before @p r1; returns the first row left (r1, or
 * r1 - 1).
 */
template <int Tile>
inline std::int64_t winograd_input_paired_rows(const conv2d_op& op, const winograd_plan& plan, std::int64_t c,
                                               std::int64_t r0, std::int64_t r1, float* v) noexcept {
  constexpr int alpha = winograd_alpha<Tile>;
  const std::int64_t tw = plan.tiles_w, xi_stride = op.c_in * plan.ld, plane_floats = op.h * op.w;
  const paired_taps<Tile> taps(tw);
  std::int64_t r = r0;
  for (; r + 1 < r1; r += 2) {
    const float* plane_a = op.input + (r / plan.tiles_h * op.c_in + c) * plane_floats;
    const float* plane_b = op.input + ((r + 1) / plan.tiles_h * op.c_in + c) * plane_floats;
    const std::int64_t ya = Tile * (r % plan.tiles_h) - 1, yb = Tile * ((r + 1) % plan.tiles_h) - 1;
    if (c + 1 < op.c_in) {  // the next channel's rows for these two tile rows
      prefetch_next_channel_rows(op, plane_a, ya, alpha);
      prefetch_next_channel_rows(op, plane_b, yb, alpha);
    }
    batch h[alpha][alpha];  // h[a][j]: row a of both rows' patches through B, column j
#pragma GCC unroll 6
    for (int a = 0; a < alpha; ++a) {
      batch d[alpha];
      taps(op, plane_a, ya + a, plane_b, yb + a, d);
      winograd_input_1d<Tile>(d, h[a], 1);
    }
    batch out[alpha * alpha];
    winograd_input_columns<Tile>(h, out);
    // Whole vectors: lanes past the two rows' tiles land on the next rows', stored after, or on
    // the slack at the end of the chunk.
    float* dst = v + c * plan.ld + (r - r0) * tw;
#pragma GCC unroll 36
    for (int xi = 0; xi < alpha * alpha; ++xi) out[xi].store_unaligned(dst + xi * xi_stride);
  }
  return r;
}
#endif

/**
 * @brief V for tile rows [r0, r1) of input channel @p c: V_ξ[c, tile] for every ξ, tile counted
 * from r0's first, kLanes tiles of a row at a time (F(2x2, 3x3) on narrow planes: two rows of
 * tiles a vector, winograd_input_paired_rows).
 */
template <int Tile>
inline void winograd_input_channel(const conv2d_op& op, const winograd_plan& plan, std::int64_t c, std::int64_t r0,
                                   std::int64_t r1, float* v) noexcept {
  constexpr int alpha = winograd_alpha<Tile>;
  const std::int64_t tw = plan.tiles_w, xi_stride = op.c_in * plan.ld;
  std::int64_t r = r0;
#if defined(__AVX512F__)
  if (tw <= kPairedTilesW) r = winograd_input_paired_rows<Tile>(op, plan, c, r0, r1, v);
#endif
  for (; r < r1; ++r) {
    const std::int64_t image = r / plan.tiles_h, ty = r % plan.tiles_h;
    const float* plane = op.input + (image * op.c_in + c) * op.h * op.w;
    float* dst = v + c * plan.ld + (r - r0) * tw;
    if (c + 1 < op.c_in) prefetch_next_channel_rows(op, plane, Tile * ty - 1, alpha);  // the next channel's rows
    for (std::int64_t x0 = 0; x0 < tw; x0 += kLanes) {
      batch h[alpha][alpha];  // h[a][j]: row a of the patch through B, column j
#pragma GCC unroll 6
      for (int a = 0; a < alpha; ++a) {
        batch d[alpha];
        row_taps<Tile>(op, plane, Tile * ty - 1 + a, x0, d);
        winograd_input_1d<Tile>(d, h[a], 1);
      }
      batch out[alpha * alpha];
      winograd_input_columns<Tile>(h, out);
      // Whole vectors: lanes past the row's tiles (zeros) land on the next row's, stored after, or
      // on the slack at the end of the chunk.
#pragma GCC unroll 36
      for (int xi = 0; xi < alpha * alpha; ++xi) out[xi].store_unaligned(dst + xi * xi_stride + x0);
    }
  }
}

#if defined(__AVX512F__)
/**
 * @brief winograd_output_channel's F(2x2, 3x3) rows two at a time (tiles_w <= kPairedTilesW, as
 * winograd_input_paired_rows stored them): tile rows r0, r0 + 1, ... up to the last pair before
 * @p r1; returns the first row left (r1, or r1 - 1). Lanes [0, tw) of each M vector are the first
 * row's tiles, [tw, 2 tw) the second's.
 */
inline std::int64_t winograd_output_paired_rows(const conv2d_op& op, const winograd_plan& plan, std::int64_t k,
                                                std::int64_t r0, std::int64_t r1, const float* m) noexcept {
  const std::int64_t tw = plan.tiles_w, xi_stride = plan.c_out_rows * plan.ld;
  const float bias = op.ep.bias ? op.ep.bias[k] : 0.f;
  // The second row's output columns start at lane 2 tw of the interleaved tiles: lanes [2 tw,
  // 2 tw + 16) of (low half, high half).
  const __m512i second_row = lanes_from(2 * tw);
  std::int64_t r = r0;
  for (; r + 1 < r1; r += 2) {
    const float* src = m + k * plan.ld + (r - r0) * tw;
    batch y[2][2];  // y[b][a]: output row a, column b of each tile of both rows
    winograd_output_tiles<2>(src, xi_stride, y);
    for (int half = 0; half < 2; ++half) {  // tile row r, then r + 1
      const std::int64_t image = (r + half) / plan.tiles_h, ty = (r + half) % plan.tiles_h;
      const std::int64_t plane = (image * op.c_out + k) * op.out_h * op.out_w;
      for (int a = 0; a < 2; ++a) {
        const std::int64_t out_y = 2 * ty + a;
        if (out_y >= op.out_h) break;
        const batch low = interleave<true>(y[0][a], y[1][a]);
        const batch line =
            half == 0 ? low : batch(_mm512_permutex2var_ps(low, second_row, interleave<false>(y[0][a], y[1][a])));
        const std::int64_t at = plane + out_y * op.out_w;
        store_conv_lanes(line, bias, op.ep.residual ? op.ep.residual + at : nullptr, op.ep.act, op.output + at,
                         op.out_w);
      }
    }
  }
  return r;
}

/**
 * @brief winograd_output_channel's F(4x4, 3x3) rows two at a time (tiles_w <= kPairedTilesW, as
 * winograd_input_paired_rows<4> stored them); returns the first row left (r1, or r1 - 1). The
 * tiles' columns interleaved as for one row of tiles put the first row's output columns at
 * [0, 4 tw) of the four vectors, the second's at [4 tw, 8 tw).
 */
inline std::int64_t winograd_output_paired_rows_4(const conv2d_op& op, const winograd_plan& plan, std::int64_t k,
                                                  std::int64_t r0, std::int64_t r1, const float* m) noexcept {
  const std::int64_t tw = plan.tiles_w, xi_stride = plan.c_out_rows * plan.ld;
  const float bias = op.ep.bias ? op.ep.bias[k] : 0.f;
  // The second row's columns: lanes [s, s + 16) of (line[q], line[q + 1]) from q = 4 tw / 16.
  const std::int64_t q0 = 4 * tw / kLanes;
  const __m512i from_shift = lanes_from(4 * tw % kLanes);
  std::int64_t r = r0;
  for (; r + 1 < r1; r += 2) {
    const float* src = m + k * plan.ld + (r - r0) * tw;
    batch y[4][4];  // y[b][a]: output row a, column b of each tile of both rows
    winograd_output_tiles<4>(src, xi_stride, y);
    for (int a = 0; a < 4; ++a) {
      // Virtual columns 4 · tile + b of the 16 tiles, as winograd_output_channel interleaves them.
      const batch even_lo = interleave<true>(y[0][a], y[2][a]), even_hi = interleave<false>(y[0][a], y[2][a]);
      const batch odd_lo = interleave<true>(y[1][a], y[3][a]), odd_hi = interleave<false>(y[1][a], y[3][a]);
      const batch line[5] = {interleave<true>(even_lo, odd_lo), interleave<false>(even_lo, odd_lo),
                             interleave<true>(even_hi, odd_hi), interleave<false>(even_hi, odd_hi), batch(0.f)};
      for (int half = 0; half < 2; ++half) {  // tile row r, then r + 1
        const std::int64_t image = (r + half) / plan.tiles_h, out_y = 4 * ((r + half) % plan.tiles_h) + a;
        if (out_y >= op.out_h) continue;
        const std::int64_t at = (image * op.c_out + k) * op.out_h * op.out_w + out_y * op.out_w;
        for (std::int64_t x = 0; x < op.out_w; x += kLanes) {
          const std::int64_t q = x / kLanes;
          const batch v =
              half == 0 ? line[q] : batch(_mm512_permutex2var_ps(line[q0 + q], from_shift, line[q0 + q + 1]));
          store_conv_lanes(v, bias, op.ep.residual ? op.ep.residual + at + x : nullptr, op.ep.act, op.output + at + x,
                           std::min(kLanes, op.out_w - x));
        }
      }
    }
  }
  return r;
}
#endif

/**
 * @brief Output channel @p k of tile rows [r0, r1) from M: Y = A^T M A per tile, with the bias,
 * residual and activation, each tile row's Tile output rows written a row at a time (the tiles'
 * columns interleaved; F(2x2, 3x3) on narrow planes two rows of tiles a vector,
 * winograd_output_paired_rows).
 */
template <int Tile>
inline void winograd_output_channel(const conv2d_op& op, const winograd_plan& plan, std::int64_t k, std::int64_t r0,
                                    std::int64_t r1, const float* m) noexcept {
  const std::int64_t tw = plan.tiles_w, xi_stride = plan.c_out_rows * plan.ld;
  const float bias = op.ep.bias ? op.ep.bias[k] : 0.f;
  std::int64_t r = r0;
#if defined(__AVX512F__)
  if (tw <= kPairedTilesW)
    r = Tile == 2 ? winograd_output_paired_rows(op, plan, k, r0, r1, m)
                  : winograd_output_paired_rows_4(op, plan, k, r0, r1, m);
#endif
  for (; r < r1; ++r) {
    const std::int64_t image = r / plan.tiles_h, ty = r % plan.tiles_h;
    const std::int64_t plane = (image * op.c_out + k) * op.out_h * op.out_w;
    const float* src = m + k * plan.ld + (r - r0) * tw;
    for (std::int64_t x0 = 0; x0 < tw; x0 += kLanes) {
      batch y[Tile][Tile];  // y[b][a]: output row a, column b of each tile
      winograd_output_tiles<Tile>(src + x0, xi_stride, y);
      const std::int64_t x = Tile * x0, columns = std::min(Tile * kLanes, op.out_w - x);
      for (int a = 0; a < Tile; ++a) {
        const std::int64_t out_y = Tile * ty + a;
        if (out_y >= op.out_h) break;
        // The tiles' columns side by side: Tile vectors of consecutive output pixels.
        batch line[Tile];
        if constexpr (Tile == 2) {
          line[0] = interleave<true>(y[0][a], y[1][a]);
          line[1] = interleave<false>(y[0][a], y[1][a]);
        } else {
          const batch even_lo = interleave<true>(y[0][a], y[2][a]), even_hi = interleave<false>(y[0][a], y[2][a]);
          const batch odd_lo = interleave<true>(y[1][a], y[3][a]), odd_hi = interleave<false>(y[1][a], y[3][a]);
          line[0] = interleave<true>(even_lo, odd_lo);
          line[1] = interleave<false>(even_lo, odd_lo);
          line[2] = interleave<true>(even_hi, odd_hi);
          line[3] = interleave<false>(even_hi, odd_hi);
        }
        const std::int64_t at = plane + out_y * op.out_w + x;
        for (int q = 0; q < Tile && q * kLanes < columns; ++q) {
          const std::int64_t offset = q * kLanes;
          store_conv_lanes(line[q], bias, op.ep.residual ? op.ep.residual + at + offset : nullptr, op.ep.act,
                           op.output + at + offset, std::min(kLanes, columns - offset));
        }
      }
    }
  }
}

/** @brief Tile rows [r0, r1), output channels [k0, k1) (k0 on a row tile), on one thread. */
template <int Tile>
inline void winograd_rows(const conv2d_op& op, const winograd_plan& plan, std::int64_t r0, std::int64_t r1,
                          std::int64_t k0, std::int64_t k1, float* v, float* m, float* packed) {
  const std::int64_t u_stride = plan.c_out_rows * op.c_in;  // floats per ξ of the packed U
  // Chunks for this thread's number of rows, which its speed decides: cut in chunks planned for
  // another number, 8 rows in chunks of 7 would leave a last chunk of one row, 14 tiles in a panel of 32.
  const std::int64_t chunk_rows = winograd_chunk_rows(plan.rows_per_chunk, r1 - r0, plan.tiles_w, plan.rows_per_chunk);
  for (std::int64_t c0 = r0; c0 < r1; c0 += chunk_rows) {
    const std::int64_t c1 = std::min(r1, c0 + chunk_rows);
    for (std::int64_t c = 0; c < op.c_in; ++c) winograd_input_channel<Tile>(op, plan, c, c0, c1, v);
    for (std::int64_t xi = 0; xi < plan.xis; ++xi) {
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
    for (std::int64_t k = k0; k < k1; ++k) winograd_output_channel<Tile>(op, plan, k, c0, c1, m);
  }
}

/** @brief The convolution by F(2x2, 3x3) or F(4x4, 3x3) (winograd_applies). */
inline void winograd_conv2d(cpu_context& ctx, const conv2d_op& op) {
  using blk = gemm_blocking;
  const winograd_plan plan = plan_winograd(ctx, op);
  const std::int64_t per_thread = plan.v_floats(op.c_in) + plan.m_floats() + blk::kKc * blk::kNc;
  const auto rows = plan.tile == 4 ? &winograd_rows<4> : &winograd_rows<2>;
  // Units [begin, end): rows of tiles, or the GEMMs' row tiles of output channels (split_channels).
  auto body = [&](int, std::int64_t begin, std::int64_t end) {
    scratch_frame own(ctx.thread_scratch());
    float* v = own.take<float>(per_thread);
    float* m = v + plan.v_floats(op.c_in);
    float* packed = m + plan.m_floats();
    if (plan.split_channels)
      rows(op, plan, 0, plan.tile_rows, begin * blk::kRows, std::min(op.c_out, end * blk::kRows), v, m, packed);
    else
      rows(op, plan, begin, end, 0, op.c_out, v, m, packed);
  };
  const std::int64_t units = plan.split_channels ? plan.c_out_rows / blk::kRows : plan.tile_rows;
  // Ranges sized by the threads' speeds as the GEMMs measured them: on a host that slows one vCPU,
  // equal halves of ResNet-50's 56 x 56 layers took 0.46 and 0.66 ms. Not measured here: a range's
  // GEMMs round its tiles up to whole panels, so its rows are not a fair measure of its speed.
  if (plan.threads == 1)
    body(0, 0, units);
  else
    ctx.pool().run_shares(units, plan.threads, body, false);
}

}  // namespace simd_detail
}  // namespace joule
