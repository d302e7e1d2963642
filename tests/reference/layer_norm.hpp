#pragma once
// Double-precision reference for layer_norm, and the error bound of a float32 two-pass kernel
// stated and justified in tests/ops/test_layer_norm.cpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace joule_ref {

struct layer_norm_result {
  std::vector<double> value;  ///< the exact-as-double result
  std::vector<double> bound;  ///< the largest error a correct float32 kernel may make, per element
};

/**
 * @brief y = gamma (z - mean) / sqrt(var + eps) + beta per row of [rows, cols], z = x + residual
 * (residual may be null), with the biased variance; and the first-order bound of test_layer_norm.cpp.
 */
inline layer_norm_result layer_norm(const float* x, const float* residual, const float* gamma, const float* beta,
                                    std::int64_t rows, std::int64_t cols, float eps) {
  const double u = 0x1p-24;
  auto gamma_of = [u](std::int64_t k) { return k * u / (1 - k * u); };
  layer_norm_result r{std::vector<double>(rows * cols), std::vector<double>(rows * cols)};
  std::vector<double> z(cols), e(cols);
  const double rounding_z = residual ? u : 0;  // the kernel rounds z = x + residual once
  for (std::int64_t i = 0; i < rows; ++i) {
    double mean = 0, mean_abs = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      z[j] = double(x[i * cols + j]) + (residual ? double(residual[i * cols + j]) : 0.0);
      mean += z[j];
      mean_abs += std::abs(z[j]);
    }
    mean /= cols;
    mean_abs /= cols;
    double var = 0;
    for (std::int64_t j = 0; j < cols; ++j) var += (z[j] - mean) * (z[j] - mean);
    var /= cols;
    const double rstd = 1 / std::sqrt(var + eps), sigma = std::sqrt(var);

    // Error of the computed mean, of each centred value, and of the variance (first order).
    const double e_mean = gamma_of(cols + 2) * mean_abs;
    double e_rms = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      e[j] = rounding_z * std::abs(z[j]) + u * std::abs(z[j] - mean) + e_mean;
      e_rms += e[j] * e[j];
    }
    e_rms = std::sqrt(e_rms / cols);
    const double spread = 2 * sigma * e_rms + e_rms * e_rms;  // (1/n) sum (d_j + e_j)^2 - var, at most
    const double e_var = gamma_of(cols + 2) * (var + spread) + spread;
    const double rel_rstd = 0.5 * (e_var + u * (var + eps)) / (var + eps) + 2 * u;
    for (std::int64_t j = 0; j < cols; ++j) {
      const double d = z[j] - mean, g = gamma[j];
      const double y = g * d * rstd + beta[j];
      r.value[i * cols + j] = y;
      r.bound[i * cols + j] =
          1.1 * (std::abs(g) * rstd * (e[j] + std::abs(d) * (rel_rstd + 2 * u)) + u * std::abs(y)) + 1e-37;
    }
  }
  return r;
}

}  // namespace joule_ref
