#pragma once
/**
 * @file softmax.hpp
 * @brief simd softmax: vector max, xsimd::exp and sum, one multiply by 1/sum; rows split across
 * threads.
 */
#include <algorithm>
#include <cstdint>
#include <limits>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/softmax.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule {

namespace simd_detail {

/** @brief y = softmax(x) for one row of @p n > 0 elements; y may be x. */
inline void softmax_row(const float* x, float* y, std::int64_t n) noexcept {
  constexpr float kMinusInf = -std::numeric_limits<float>::infinity();
  // Subtracting the row maximum keeps every exp() in (0, 1], so no finite input overflows. The
  // maximum may skip a NaN, but the NaN element's own exp then turns the sum, and so the whole
  // row, NaN, which is the contract.
  batch max_v(kMinusInf);
  std::int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) max_v = xsimd::max(max_v, batch::load_unaligned(x + j));
  alignas(64) float lane[kLanes];
  max_v.store_aligned(lane);
  float max = kMinusInf;
  for (float m : lane) max = m > max ? m : max;
  for (std::int64_t t = j; t < n; ++t) max = x[t] > max ? x[t] : max;

  const batch max_b(max);
  batch sum_v(0.f);
  for (j = 0; j + kLanes <= n; j += kLanes) {
    const batch e = xsimd::exp(batch::load_unaligned(x + j) - max_b);
    e.store_unaligned(y + j);
    sum_v += e;
  }
  if (j < n) {
    // The tail through the same vector exp; padding with -inf adds exp(-inf) = 0 to the sum.
    std::fill(lane, lane + kLanes, kMinusInf);
    std::copy(x + j, x + n, lane);
    const batch e = xsimd::exp(batch::load_aligned(lane) - max_b);
    e.store_aligned(lane);
    std::copy(lane, lane + (n - j), y + j);
    sum_v += e;
  }
  const float inv = 1.f / xsimd::hadd(sum_v);
  const batch inv_b(inv);
  for (j = 0; j + kLanes <= n; j += kLanes) (batch::load_unaligned(y + j) * inv_b).store_unaligned(y + j);
  for (; j < n; ++j) y[j] *= inv;
}

}  // namespace simd_detail

template <>
struct kernel<softmax_op, simd> {
  static void run(cpu_context& ctx, const softmax_op& op) {
    // About 16 Ki elements per thread at least: below that a fork costs more than the rows.
    ctx.parallel_for(op.rows, std::max<std::int64_t>(1, 16384 / op.cols), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) simd_detail::softmax_row(op.x + i * op.cols, op.y + i * op.cols, op.cols);
    });
  }
};

}  // namespace joule
