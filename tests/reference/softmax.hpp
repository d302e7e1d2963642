#pragma once
// Double-precision reference for softmax, and the error bound of a float32 kernel stated and
// justified in tests/ops/test_softmax.cpp.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace joule_ref {

/** @brief Relative error of a float32 exp() on [-87, 0], in units of u = 2^-24 (see test_softmax.cpp). */
inline constexpr double kExpErrorUnits = 6;

struct softmax_result {
  std::vector<double> value;  ///< the exact-as-double softmax
  std::vector<double> bound;  ///< the largest error a correct float32 kernel may make, per element
};

/**
 * @brief Softmax of one row x[0, n) in double, written into @p value, plus the bound on a float
 * kernel's result: p_j · (gamma(n) + (2E + 2 + |d_j| + sum_k p_k |d_k|) u) + 2^-125, d_j = x_j - max.
 * NaN or +inf anywhere, or a row of -inf only, make the whole row NaN (as the kernels do).
 */
inline void softmax_row(const float* x, std::int64_t n, double* value, double* bound) {
  const double u = 0x1p-24;
  double max = -std::numeric_limits<double>::infinity();
  for (std::int64_t j = 0; j < n; ++j) max = x[j] > max ? x[j] : max;
  double sum = 0;
  for (std::int64_t j = 0; j < n; ++j) sum += value[j] = std::exp(double(x[j]) - max);
  double weighted_spread = 0;  // sum_k p_k |d_k|, over the terms that are not exactly 0
  for (std::int64_t j = 0; j < n; ++j) {
    value[j] /= sum;
    if (value[j] > 0) weighted_spread += value[j] * std::abs(double(x[j]) - max);
  }
  const double nu = static_cast<double>(n) * u, gamma_n = nu / (1 - nu);
  for (std::int64_t j = 0; j < n; ++j) {
    const double spread = value[j] > 0 ? std::abs(double(x[j]) - max) : 0;
    bound[j] = value[j] * (gamma_n + (2 * kExpErrorUnits + 2 + spread + weighted_spread) * u) + 0x1p-125;
  }
}

/** @brief Row-wise softmax of a dense [rows, cols] float tensor. */
inline softmax_result softmax(const float* x, std::int64_t rows, std::int64_t cols) {
  softmax_result r{std::vector<double>(rows * cols), std::vector<double>(rows * cols)};
  for (std::int64_t i = 0; i < rows; ++i) softmax_row(x + i * cols, cols, &r.value[i * cols], &r.bound[i * cols]);
  return r;
}

}  // namespace joule_ref
