#pragma once
// Double-precision reference for gemm, and the magnitude each output's error bound scales with.
#include <cmath>
#include <cstdint>
#include <vector>

#include <joule/ops/desc/activation.hpp>

namespace joule_ref {

/** @brief act(x) in double, the definition joule's float kernels approximate. */
inline double activation(joule::activation a, double x) {
  switch (a) {
    case joule::activation::none:
      return x;
    case joule::activation::relu:
      return x < 0 ? 0 : x;
    case joule::activation::relu6:
      return x < 0 ? 0 : (x > 6 ? 6 : x);
    case joule::activation::gelu_erf:
      return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case joule::activation::gelu_tanh:
      return 0.5 * x * (1 + std::tanh(std::sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
    case joule::activation::tanh:
      return std::tanh(x);
  }
  return x;
}

struct gemm_result {
  std::vector<double> value;      ///< the exact-as-double result
  std::vector<double> magnitude;  ///< |alpha| · sum_p |a_ip b_pj| + |bias| + |residual|, per element
};

/**
 * @brief C = act(alpha · A · op(B) + bias + residual) for dense row-major A [m, k], B [k, n] or
 * [n, k] (trans_b), bias [n] or empty, residual [m, n] or empty.
 */
inline gemm_result gemm(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, const float* b, bool trans_b,
                        float alpha, const float* bias, const float* residual, joule::activation act) {
  gemm_result r{std::vector<double>(m * n), std::vector<double>(m * n)};
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0, mag = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const double prod = double(a[i * k + p]) * (trans_b ? b[j * k + p] : b[p * n + j]);
        acc += prod;
        mag += std::abs(prod);
      }
      acc *= alpha;
      mag *= std::abs(alpha);
      if (bias) acc += bias[j], mag += std::abs(bias[j]);
      if (residual) acc += residual[i * n + j], mag += std::abs(residual[i * n + j]);
      r.value[i * n + j] = activation(act, acc);
      r.magnitude[i * n + j] = mag;
    }
  return r;
}

}  // namespace joule_ref
