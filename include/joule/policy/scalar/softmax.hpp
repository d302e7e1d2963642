#pragma once
/** @file softmax.hpp @brief scalar softmax: max, exp and sum, normalise; one row at a time. */
#include <cmath>
#include <cstdint>
#include <limits>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/softmax.hpp>
#include <joule/policy/scalar.hpp>

namespace joule {

namespace scalar_detail {
/** @brief y = softmax(x) for one row of @p n > 0 elements; y may be x. */
inline void softmax_row(const float* x, float* y, std::int64_t n) {
  // Subtracting the row maximum keeps every exp() in (0, 1], so no finite input overflows. The
  // maximum skips NaN, but a NaN element still turns its own exp, the sum and so the whole row NaN.
  float max = -std::numeric_limits<float>::infinity();
  for (std::int64_t j = 0; j < n; ++j) max = x[j] > max ? x[j] : max;
  float sum = 0.f;
  for (std::int64_t j = 0; j < n; ++j) {
    y[j] = std::exp(x[j] - max);
    sum += y[j];
  }
  const float inv = 1.f / sum;
  for (std::int64_t j = 0; j < n; ++j) y[j] *= inv;
}
}  // namespace scalar_detail

template <>
struct kernel<softmax_op, scalar> {
  static void run(cpu_context&, const softmax_op& op) {
    for (std::int64_t i = 0; i < op.rows; ++i)
      scalar_detail::softmax_row(op.x + i * op.cols, op.y + i * op.cols, op.cols);
  }
};

}  // namespace joule
