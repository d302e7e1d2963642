#pragma once
/**
 * @file layer_norm.hpp
 * @brief simd layer_norm: two vector passes per row (mean, then the centred sum of squares) in
 * float, then one fused scale-and-shift pass; rows split across threads.
 *
 * Error: the sums carry Higham's gamma(cols) relative to sum |z| and sum (z - mean)^2 in any
 * order, so the variance's relative error is about gamma(cols) plus the mean's error squared
 * over the variance; the two-pass form never subtracts mean^2 from E[z^2], whose cancellation
 * costs digits when |mean| >> std (tests/ops/test_layer_norm.cpp states the bound).
 */
#include <algorithm>
#include <cmath>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/layer_norm.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule {

namespace simd_detail {

/** @brief One row of layer_norm_op; @p residual may be null. */
inline void layer_norm_row(const layer_norm_op& op, const float* x, const float* residual, float* y) noexcept {
  const std::int64_t n = op.cols;
  // With a residual, z = x + residual is written to y first and read back from there: y may
  // alias x or the residual, and each element is read before it is overwritten.
  const float* z = x;
  batch sum_v(0.f);
  float sum = 0.f;
  std::int64_t j = 0;
  if (residual) {
    for (; j + kLanes <= n; j += kLanes) {
      const batch zj = batch::load_unaligned(x + j) + batch::load_unaligned(residual + j);
      zj.store_unaligned(y + j);
      sum_v += zj;
    }
    for (; j < n; ++j) sum += y[j] = x[j] + residual[j];
    z = y;
  } else {
    for (; j + kLanes <= n; j += kLanes) sum_v += batch::load_unaligned(x + j);
    for (; j < n; ++j) sum += x[j];
  }
  const float mean = (xsimd::hadd(sum_v) + sum) / static_cast<float>(n);

  const batch mean_b(mean);
  batch squares_v(0.f);
  float squares = 0.f;
  for (j = 0; j + kLanes <= n; j += kLanes) {
    const batch d = batch::load_unaligned(z + j) - mean_b;
    squares_v = xsimd::fma(d, d, squares_v);
  }
  for (; j < n; ++j) squares += (z[j] - mean) * (z[j] - mean);
  const float rstd = 1.f / std::sqrt((xsimd::hadd(squares_v) + squares) / static_cast<float>(n) + op.eps);

  const batch rstd_b(rstd);
  for (j = 0; j + kLanes <= n; j += kLanes) {
    const batch scaled = (batch::load_unaligned(z + j) - mean_b) * rstd_b;
    xsimd::fma(scaled, batch::load_unaligned(op.gamma + j), batch::load_unaligned(op.beta + j)).store_unaligned(y + j);
  }
  for (; j < n; ++j) y[j] = (z[j] - mean) * rstd * op.gamma[j] + op.beta[j];
}

}  // namespace simd_detail

template <>
struct kernel<layer_norm_op, simd> {
  static void run(cpu_context& ctx, const layer_norm_op& op) {
    // Three passes over a row of about 16 Ki elements per thread at least before forking pays.
    ctx.parallel_for(op.rows, std::max<std::int64_t>(1, 16384 / op.cols), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i)
        simd_detail::layer_norm_row(op, op.x + i * op.cols, op.residual ? op.residual + i * op.cols : nullptr,
                                    op.y + i * op.cols);
    });
  }
};

}  // namespace joule
