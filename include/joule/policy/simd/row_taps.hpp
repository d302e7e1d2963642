#pragma once
/**
 * @file row_taps.hpp
 * @brief One input row dealt out to the taps of kLanes windows a fixed step apart (simd policy).
 */
#include <cstdint>

#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/vector_math.hpp>
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace joule::simd_detail {

/**
 * @brief The Step + 2 taps of row @p y that kLanes windows Step columns apart read, first window
 * x0, one column of padding on the left: d[b] lane l = input(y, Step (x0 + l) - 1 + b), 0 off the
 * plane. With AVX-512 or AVX2, loads of the row and permutes deal it out to the taps; otherwise
 * lane by lane. Winograd's F(Step x Step, 3x3) patch rows (conv2d_winograd.hpp) and the stride-2
 * depthwise kernel's columns (depthwise_inplace.hpp, taps 0-2) read their rows through it.
 */
template <int Step>
[[gnu::always_inline]] inline void row_taps(const conv2d_op& op, const float* plane, std::int64_t y, std::int64_t x0,
                                            batch (&d)[Step + 2]) noexcept {
  if (y < 0 || y >= op.h) {
    for (batch& v : d) v = batch(0.f);
    return;
  }
  const float* row = plane + y * op.w;
  const std::int64_t base = Step * x0 - 1;  // column of lane 0's first tap
#if defined(__AVX512F__)
  static_assert(kLanes == 16);
  // The last two columns are the first two one window on: those vectors shifted down a lane, the
  // first two floats past the windows' Step · 16 shifted in.
  const auto last_two = [](__m512 first, __m512 second, __m512 next, batch& d_first, batch& d_second) {
    const __m512i tail_0 = _mm512_castps_si512(next);
    const __m512i tail_1 = _mm512_alignr_epi32(_mm512_setzero_si512(), tail_0, 1);
    d_first = _mm512_castsi512_ps(_mm512_alignr_epi32(tail_0, _mm512_castps_si512(first), 1));
    d_second = _mm512_castsi512_ps(_mm512_alignr_epi32(tail_1, _mm512_castps_si512(second), 1));
  };
  if constexpr (Step == 2) {
    // Three loads, two permutes: the even and the odd columns.
    const __m512 l0 = load_row_part(row, op.w, base, 16), l1 = load_row_part(row, op.w, base + 16, 16);
    const __m512 l2 = load_row_part(row, op.w, base + 32, 2);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    d[0] = _mm512_permutex2var_ps(l0, even, l1);
    d[1] = _mm512_permutex2var_ps(l0, odd, l1);
    last_two(d[0], d[1], l2, d[2], d[3]);
  } else {
    // Five loads. Each permute gathers two columns of 8 windows (one in each half) from two loads;
    // each 128-bit shuffle then joins one column's halves from the first 8 windows and the last 8.
    const __m512 l0 = load_row_part(row, op.w, base, 16), l1 = load_row_part(row, op.w, base + 16, 16);
    const __m512 l2 = load_row_part(row, op.w, base + 32, 16), l3 = load_row_part(row, op.w, base + 48, 16);
    const __m512 l4 = load_row_part(row, op.w, base + 64, 2);
    const __m512i c01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i c23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    const __m512 p01 = _mm512_permutex2var_ps(l0, c01, l1), q01 = _mm512_permutex2var_ps(l2, c01, l3);
    const __m512 p23 = _mm512_permutex2var_ps(l0, c23, l1), q23 = _mm512_permutex2var_ps(l2, c23, l3);
    d[0] = _mm512_shuffle_f32x4(p01, q01, _MM_SHUFFLE(1, 0, 1, 0));
    d[1] = _mm512_shuffle_f32x4(p01, q01, _MM_SHUFFLE(3, 2, 3, 2));
    d[2] = _mm512_shuffle_f32x4(p23, q23, _MM_SHUFFLE(1, 0, 1, 0));
    d[3] = _mm512_shuffle_f32x4(p23, q23, _MM_SHUFFLE(3, 2, 3, 2));
    last_two(d[0], d[1], l4, d[4], d[5]);
  }
#elif defined(__AVX2__)
  static_assert(kLanes == 8);
  // AVX2 has no two-source permute: each tap is dealt out of the 128-bit halves by in-lane
  // shuffles, then its 64-bit pieces (or lanes) put in order by one cross-lane permute. The
  // lane-by-lane fallback below, 8 x (Step + 2) scalar loads stored and reloaded, had the stride-2
  // depthwise kernel at 3-4x ONNX Runtime's time on MobileNetV2's stride-2 blocks (Zen 1).
  if constexpr (Step == 2) {
    // Even and odd columns of 16 from two loads: per half, shuffle picks [lo 0, lo 2, hi 0, hi 2];
    // the 64-bit permute (0, 2, 1, 3) joins the halves.
    const auto deal = [](__m256 lo, __m256 hi, batch & even, batch & odd) __attribute__((always_inline)) {
      const auto in_order = [](__m256 v) __attribute__((always_inline)) {
        return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
      };
      even = in_order(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)));
      odd = in_order(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)));
    };
    deal(load_row_part(row, op.w, base, 8), load_row_part(row, op.w, base + 8, 8), d[0], d[1]);
    deal(load_row_part(row, op.w, base + 2, 8), load_row_part(row, op.w, base + 10, 8), d[2], d[3]);
  } else {
    static_assert(Step == 4);
    // A 4 x 8 transpose of four loads (window w's columns 4 w .. 4 w + 3): unpacks and shuffles
    // give each column's windows in the order 0 2 4 6 | 1 3 5 7, one permute a column sorts them.
    const __m256 l0 = load_row_part(row, op.w, base, 8), l1 = load_row_part(row, op.w, base + 8, 8);
    const __m256 l2 = load_row_part(row, op.w, base + 16, 8), l3 = load_row_part(row, op.w, base + 24, 8);
    const __m256 t0 = _mm256_unpacklo_ps(l0, l1), t1 = _mm256_unpackhi_ps(l0, l1);
    const __m256 t2 = _mm256_unpacklo_ps(l2, l3), t3 = _mm256_unpackhi_ps(l2, l3);
    const __m256i windows_in_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const auto column = [&](__m256 u) __attribute__((always_inline)) {
      return _mm256_permutevar8x32_ps(u, windows_in_order);
    };
    d[0] = column(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)));
    d[1] = column(_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)));
    d[2] = column(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)));
    d[3] = column(_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)));
    // The last two columns are the first two one window on: rotated down a lane, the two floats
    // past the 8 windows (columns 32 and 33) blended into the top lane.
    const __m256 tail = load_row_part(row, op.w, base + 32, 2);
    const __m256i down_a_lane = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
    d[4] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[0], down_a_lane),
                           _mm256_permutevar8x32_ps(tail, _mm256_set1_epi32(0)), 0x80);
    d[5] = _mm256_blend_ps(_mm256_permutevar8x32_ps(d[1], down_a_lane),
                           _mm256_permutevar8x32_ps(tail, _mm256_set1_epi32(1)), 0x80);
  }
#else
  constexpr int alpha = Step + 2;
  alignas(64) float lanes[alpha][kLanes];
  for (std::int64_t l = 0; l < kLanes; ++l)
    for (int b = 0; b < alpha; ++b) {
      const std::int64_t x = base + Step * l + b;
      lanes[b][l] = x >= 0 && x < op.w ? row[x] : 0.f;
    }
  for (int b = 0; b < alpha; ++b) d[b] = batch::load_aligned(lanes[b]);
#endif
}

}  // namespace joule::simd_detail
