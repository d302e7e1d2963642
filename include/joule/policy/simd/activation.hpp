#pragma once
/** @file activation.hpp @brief simd activation: vector activate() over the elements, split across threads. */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/elementwise.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule {

namespace simd_detail {

/** @brief Vectors per thread below which forking costs more than it saves. */
inline std::int64_t elementwise_grain(activation act) noexcept {
  // ReLU and a plain add are one load and one store per vector (memory-bound, ~32 KiB is a few
  // microseconds); erf and tanh cost tens of instructions per vector, so smaller pieces pay off.
  const bool cheap = act == activation::none || act == activation::relu || act == activation::relu6;
  return (cheap ? 32768 : 4096) / kLanes;
}

/** @brief y[i] = act(x[i]) for i in [0, n); y may be x. */
inline void activate_span(activation act, const float* x, float* y, std::int64_t n) noexcept {
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) activate(act, batch::load_unaligned(x + i)).store_unaligned(y + i);
  if (i == n) return;
  // The tail goes through the same vector code in a padded register, so an element's result never
  // depends on where it sits (a scalar std::erf could differ from xsimd::erf in the last bit).
  alignas(64) float lane[kLanes] = {};
  std::copy(x + i, x + n, lane);
  activate(act, batch::load_aligned(lane)).store_aligned(lane);
  std::copy(lane, lane + (n - i), y + i);
}

}  // namespace simd_detail

template <>
struct kernel<activation_op, simd> {
  static void run(cpu_context& ctx, const activation_op& op) {
    using simd_detail::kLanes;
    const std::int64_t vectors = (op.count + kLanes - 1) / kLanes;
    // Split in whole vectors, so that only the last piece has a tail.
    ctx.parallel_for(vectors, simd_detail::elementwise_grain(op.act), [&](std::int64_t v0, std::int64_t v1) {
      const std::int64_t i0 = v0 * kLanes, i1 = std::min(op.count, v1 * kLanes);
      simd_detail::activate_span(op.act, op.x + i0, op.y + i0, i1 - i0);
    });
  }
};

}  // namespace joule
