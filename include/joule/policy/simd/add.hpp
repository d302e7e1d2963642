#pragma once
/** @file add.hpp @brief simd add: y = act(a + b) in vectors, b repeated every b_count elements. */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/elementwise.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/activation.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule {

namespace simd_detail {

/** @brief y[i] = act(a[i] + b[i]) for i in [0, n); y may be a (or b). */
inline void add_span(activation act, const float* a, const float* b, float* y, std::int64_t n) noexcept {
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    activate(act, batch::load_unaligned(a + i) + batch::load_unaligned(b + i)).store_unaligned(y + i);
  if (i == n) return;
  // The tail runs the same vector code in padded registers (see activate_span).
  alignas(64) float lane_a[kLanes] = {};
  alignas(64) float lane_b[kLanes] = {};
  std::copy(a + i, a + n, lane_a);
  std::copy(b + i, b + n, lane_b);
  activate(act, batch::load_aligned(lane_a) + batch::load_aligned(lane_b)).store_aligned(lane_a);
  std::copy(lane_a, lane_a + (n - i), y + i);
}

}  // namespace simd_detail

template <>
struct kernel<add_op, simd> {
  static void run(cpu_context& ctx, const add_op& op) {
    using simd_detail::kLanes;
    const std::int64_t vectors = (op.count + kLanes - 1) / kLanes;
    ctx.parallel_for(vectors, simd_detail::elementwise_grain(op.act), [&](std::int64_t v0, std::int64_t v1) {
      const std::int64_t i1 = std::min(op.count, v1 * kLanes);
      // Walk the piece in segments that end where b starts over, so each segment is two
      // contiguous spans of the same length.
      std::int64_t i = v0 * kLanes, j = i % op.b_count;
      while (i < i1) {
        const std::int64_t len = std::min(i1 - i, op.b_count - j);
        simd_detail::add_span(op.act, op.a + i, op.b + j, op.y + i, len);
        i += len;
        j = 0;
      }
    });
  }
};

}  // namespace joule
