#pragma once
/**
 * @file vector_math.hpp
 * @brief What the simd policy's kernels share: the batch type, vector activations, and the
 * vectorised GEMM epilogue for one row segment.
 */
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

#include <immintrin.h>
#include <xsimd/xsimd.hpp>

#include <joule/ops/desc/activation.hpp>

namespace joule::simd_detail {

using batch = xsimd::batch<float>;
inline constexpr std::int64_t kLanes = static_cast<std::int64_t>(batch::size);

#if XSIMD_WITH_AVX512F
/** @brief Transposes 16 x 16 floats in registers: r[i] lane j becomes r[j] lane i. */
[[gnu::always_inline]] inline void transpose_16x16(__m512 (&r)[16]) noexcept {
  __m512 t[16];
  // Pairs of rows interleaved by float, then by pairs of floats, then by 128-bit lanes twice.
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
  }
}
#elif XSIMD_WITH_AVX
/** @brief Transposes 8 x 8 floats in registers: r[i] lane j becomes r[j] lane i. */
[[gnu::always_inline]] inline void transpose_8x8(__m256 (&r)[8]) noexcept {
  __m256 t[8];
  // Pairs of rows interleaved by float, then by pairs of floats (within 128-bit halves), then the
  // halves exchanged: AVX has no permute across the halves finer than 128 bits.
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) r[i] = t[i];
}
#endif

/** @brief The transcendental activations on a vector: out of line, they are long and rarely per-tile. */
[[gnu::noinline]] inline batch activate_transcendental(activation act, batch x) noexcept {
  switch (act) {
    case activation::gelu_erf:
      return batch(0.5f) * x * (batch(1.f) + xsimd::erf(x * batch(0.70710678118654752f)));
    case activation::gelu_tanh: {
      const batch inner = batch(0.79788456080286536f) * (x + batch(0.044715f) * x * x * x);
      return batch(0.5f) * x * (batch(1.f) + xsimd::tanh(inner));
    }
    case activation::tanh:
      return xsimd::tanh(x);
    default:
      return x;
  }
}

/**
 * @brief One activation on a vector, matching apply_activation() lane by lane.
 *
 * Always inlined: the GEMM and convolution epilogues call it once per vector of output, and as a
 * call (GCC's choice at -O2) it cost 6% of MobileNetV2. ReLU and ReLU6 use select() on comparisons
 * that are false for NaN, so NaN lanes pass through unchanged; x86 max/min instructions would
 * return the other operand and hide the NaN.
 */
[[gnu::always_inline]] inline batch activate(activation act, batch x) noexcept {
  switch (act) {
    case activation::none:
      return x;
    case activation::relu:
      return xsimd::select(x < batch(0.f), batch(0.f), x);
    case activation::relu6: {
      const batch low = xsimd::select(x < batch(0.f), batch(0.f), x);
      return xsimd::select(low > batch(6.f), batch(6.f), low);
    }
    default:
      return activate_transcendental(act, x);
  }
}

/**
 * @brief The lanes of @p v moved up one (lane i + 1 takes lane i), 0 into lane 0: the vector one
 * column to the left of a loaded one, on a row whose column -1 is padding. A permute and a blend,
 * where a masked load of the row from column -1 cost about 7 cycles on AMD's Zen 1.
 */
[[gnu::always_inline]] inline batch lanes_up_one(batch v) noexcept {
#if defined(__AVX512F__)
  static_assert(kLanes == 16);
  const __m512i from = _mm512_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
  return _mm512_maskz_permutexvar_ps(static_cast<__mmask16>(0xfffe), from, v);
#elif defined(__AVX2__)
  static_assert(kLanes == 8);
  const __m256 moved = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6));
  return _mm256_blend_ps(moved, _mm256_setzero_ps(), 0x01);
#else
  alignas(64) float in[kLanes], out[kLanes] = {};
  v.store_aligned(in);
  for (std::int64_t i = 1; i < kLanes; ++i) out[i] = in[i - 1];
  return batch::load_aligned(out);
#endif
}

/**
 * @brief The lanes of @p v moved down one (lane i takes lane i + 1), 0 into the last lane: the
 * vector one column to the right of a loaded one that ends the row.
 */
[[gnu::always_inline]] inline batch lanes_down_one(batch v) noexcept {
#if defined(__AVX512F__)
  static_assert(kLanes == 16);
  const __m512i from = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 15);
  return _mm512_maskz_permutexvar_ps(static_cast<__mmask16>(0x7fff), from, v);
#elif defined(__AVX2__)
  static_assert(kLanes == 8);
  const __m256 moved = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7));
  return _mm256_blend_ps(moved, _mm256_setzero_ps(), 0x80);
#else
  alignas(64) float in[kLanes], out[kLanes] = {};
  v.store_aligned(in);
  for (std::int64_t i = 0; i + 1 < kLanes; ++i) out[i] = in[i + 1];
  return batch::load_aligned(out);
#endif
}

/**
 * @brief p[0, count) as the first lanes of a vector, the other lanes 0, for count in [0, kLanes]:
 * nothing past p + count is read. AVX-512 and AVX2 load under a mask; the rows that end in a
 * partial vector (7- and 14-wide planes, a GEMM's ragged last panel) copied lanes through a buffer
 * with a memcpy call each, 3% of MobileNetV2.
 */
[[gnu::always_inline]] inline batch load_first(const float* p, std::int64_t count) noexcept {
#if defined(__AVX512F__)
  static_assert(kLanes == 16);
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1u), p);
#elif defined(__AVX2__)
  // Plain loads of 4, 2 and 1 floats, not a masked load: vmaskmovps costs about 7 cycles a load on
  // AMD's Zen 1 against 1-2 (a two-loop probe), and a whole vector is often what is asked for.
  static_assert(kLanes == 8);
  if (count == 8) return batch::load_unaligned(p);
  const auto part = [](const float* q, std::int64_t n) {  // q[0, n) for n < 4, the other lanes 0
    if (n == 0) return _mm_setzero_ps();
    if (n == 1) return _mm_load_ss(q);
    double pair;  // q[0, 2) as one 64-bit load; _mm_load_sd would dereference a misaligned double*
    std::memcpy(&pair, q, sizeof pair);
    const __m128 two = _mm_castpd_ps(_mm_set_sd(pair));
    return n == 2 ? two : _mm_movelh_ps(two, _mm_load_ss(q + 2));
  };
  if (count < 4) return _mm256_set_m128(_mm_setzero_ps(), part(p, count));
  return _mm256_set_m128(part(p + 4, count - 4), _mm_loadu_ps(p));
#else
  alignas(64) float lanes[kLanes] = {};
  for (std::int64_t i = 0; i < count; ++i) lanes[i] = p[i];
  return batch::load_aligned(lanes);
#endif
}

/**
 * @brief The lanes of p[0, kLanes) that @p lanes (bit l for lane l) selects, the others 0: only the
 * selected floats are read, so p may point partly outside the array (the masked lanes are never
 * touched, as with load_first).
 */
[[gnu::always_inline]] inline batch load_lanes(const float* p, std::uint32_t lanes) noexcept {
#if defined(__AVX512F__)
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>(lanes), p);
#elif defined(__AVX2__)
  // Every lane, none, or the first few (most of the masks that im2col, the flat depthwise kernel and
  // the split tiles ask for) without the masked load that AMD microcodes (load_first); any other
  // set of lanes under the mask.
  lanes &= 0xffu;
  if (lanes == 0xffu) return batch::load_unaligned(p);
  if ((lanes & (lanes + 1u)) == 0) return load_first(p, std::popcount(lanes));
  // All but lane 0: a row read from column -1, the left padding of the stride-2 windows (row_taps).
  if (lanes == 0xfeu) return lanes_up_one(load_first(p + 1, kLanes - 1));
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i mask = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(lanes)), bit), bit);
  return _mm256_maskload_ps(p, mask);
#else
  alignas(64) float out[kLanes] = {};
  for (std::int64_t i = 0; i < kLanes; ++i)
    if (lanes >> i & 1u) out[i] = p[i];
  return batch::load_aligned(out);
#endif
}

/**
 * @brief The lanes of row[start, start + count) that fall on the row [0, width), the others 0,
 * for count <= kLanes: a convolution's windows overhang its plane by the padding on either side.
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
 * @brief Stores the first @p count lanes of @p v to p[0, count), count in [0, kLanes]; writes nothing else.
 *
 * AVX2 stores 4, 2 and 1 floats as the count needs, not under a mask: AMD's Zen cores microcode a
 * masked 256-bit store (vmaskmovps), and on Zen 1 that one instruction took a third of im2col's
 * time on ResNet-50's 7 x 7 layers, whose 49-float rows end in a one-lane vector (perf annotate).
 */
[[gnu::always_inline]] inline void store_first(batch v, float* p, std::int64_t count) noexcept {
#if defined(__AVX512F__)
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << count) - 1u), v);
#elif defined(__AVX2__)
  static_assert(kLanes == 8);
  if (count == 8) return v.store_unaligned(p);
  __m128 part = _mm256_castps256_ps128(v);
  if (count >= 4) {
    _mm_storeu_ps(p, part);
    part = _mm256_extractf128_ps(v, 1);
    p += 4;
    count -= 4;
  }
  if (count >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
    part = _mm_movehl_ps(part, part);
    p += 2;
    count -= 2;
  }
  if (count == 1) _mm_store_ss(p, part);
#else
  alignas(64) float lanes[kLanes];
  v.store_aligned(lanes);
  for (std::int64_t i = 0; i < count; ++i) p[i] = lanes[i];
#endif
}

/**
 * @brief Stores the lanes of @p v that @p lanes (bit l for lane l) selects to p[0, kLanes), writing
 * nothing else: p may point partly outside the array, as with load_lanes.
 */
[[gnu::always_inline]] inline void store_lanes(batch v, float* p, std::uint32_t lanes) noexcept {
#if defined(__AVX512F__)
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>(lanes), v);
#elif defined(__AVX2__)
  // A run of neighbouring lanes (a tile's columns in one image: store_split_tile) moved down to
  // lane 0 and stored as store_first does, not under a mask (microcoded on AMD's Zen cores).
  const int low = lanes == 0 ? 0 : __builtin_ctz(lanes);
  const std::uint32_t run = lanes >> low;
  if ((run & (run + 1u)) == 0) {
    const __m256i from = _mm256_add_epi32(_mm256_set1_epi32(low), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return store_first(_mm256_permutevar8x32_ps(v, from), p + low, __builtin_popcount(run));
  }
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i mask = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(lanes)), bit), bit);
  _mm256_maskstore_ps(p, mask, v);
#else
  alignas(64) float out[kLanes];
  v.store_aligned(out);
  for (std::int64_t i = 0; i < kLanes; ++i)
    if (lanes >> i & 1u) p[i] = out[i];
#endif
}

/**
 * @brief out[0, count) = act(v + bias + residual) for the first @p count lanes of @p v (count <=
 * kLanes): a row of a convolution's output, whose bias is one value per output channel.
 */
[[gnu::always_inline]] inline void store_conv_lanes(batch v, float bias, const float* residual, activation act,
                                                    float* out, std::int64_t count) noexcept {
  v += batch(bias);
  if (count == kLanes) {
    if (residual) v += batch::load_unaligned(residual);
    activate(act, v).store_unaligned(out);
    return;
  }
  // A partial vector at the end of a row, where the residual and the output may end.
  if (residual) v += load_first(residual, count);
  store_first(activate(act, v), out, count);
}

/**
 * @brief act(alpha · v + bias + residual) for the outputs at row @p row, columns [col, col + count)
 * (count <= kLanes; the other lanes are don't-care): the epilogue on a vector still in registers.
 * Only the first count lanes of the bias and the residual are read.
 */
[[gnu::always_inline]] inline batch epilogue_vector(const epilogue& ep, float alpha, batch v, std::int64_t row,
                                                    std::int64_t col, std::int64_t count = kLanes) noexcept {
  auto load = [count](const float* p) { return count == kLanes ? batch::load_unaligned(p) : load_first(p, count); };
  if (alpha != 1.f) v *= batch(alpha);
  if (ep.bias) v += ep.axis == bias_axis::row ? batch(ep.bias[row]) : load(ep.bias + col);
  if (ep.residual) v += load(ep.residual + row * ep.ldr + col);
  return activate(ep.act, v);
}

/**
 * @brief Finishes row @p row, columns [col, col + count) of a GEMM output in place:
 * c = act(alpha · c + bias + residual). Whole vectors, then one partial vector.
 */
inline void epilogue_row(const epilogue& ep, float alpha, float* c, std::int64_t row, std::int64_t col,
                         std::int64_t count) noexcept {
  std::int64_t j = 0;
  for (; j + kLanes <= count; j += kLanes)
    epilogue_vector(ep, alpha, batch::load_unaligned(c + j), row, col + j).store_unaligned(c + j);
  if (j < count) {
    const std::int64_t rest = count - j;
    store_first(epilogue_vector(ep, alpha, load_first(c + j, rest), row, col + j, rest), c + j, rest);
  }
}

}  // namespace joule::simd_detail
