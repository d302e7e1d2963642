#pragma once
/** @file layer_norm.hpp @brief scalar layer_norm: two passes (mean, then variance) in float per row. */
#include <cmath>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/layer_norm.hpp>
#include <joule/policy/scalar.hpp>

namespace joule {

template <>
struct kernel<layer_norm_op, scalar> {
  static void run(cpu_context&, const layer_norm_op& op) {
    const auto n = static_cast<float>(op.cols);
    for (std::int64_t i = 0; i < op.rows; ++i) {
      const float* x = op.x + i * op.cols;
      float* y = op.y + i * op.cols;
      // With a residual, z = x + residual is written to y first and read back from there: y may
      // alias x or the residual, and each element is read before it is overwritten.
      const float* z = x;
      if (op.residual) {
        const float* r = op.residual + i * op.cols;
        for (std::int64_t j = 0; j < op.cols; ++j) y[j] = x[j] + r[j];
        z = y;
      }
      float sum = 0.f;
      for (std::int64_t j = 0; j < op.cols; ++j) sum += z[j];
      const float mean = sum / n;
      // The second pass sums squares of centred values, which never cancel: its error is
      // relative to the variance itself, not to mean^2 as in the one-pass E[z^2] - E[z]^2.
      float squares = 0.f;
      for (std::int64_t j = 0; j < op.cols; ++j) squares += (z[j] - mean) * (z[j] - mean);
      const float rstd = 1.f / std::sqrt(squares / n + op.eps);
      for (std::int64_t j = 0; j < op.cols; ++j) y[j] = (z[j] - mean) * rstd * op.gamma[j] + op.beta[j];
    }
  }
};

}  // namespace joule
