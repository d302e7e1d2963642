#pragma once
// Double-precision references for the elementwise operators (activation, add), and the magnitude
// each output's error bound scales with. The activation itself is joule_ref::activation (gemm.hpp).
#include <cmath>
#include <cstdint>
#include <vector>

#include <joule/ops/desc/activation.hpp>

#include "gemm.hpp"

namespace joule_ref {

struct elementwise_result {
  std::vector<double> value;      ///< the exact-as-double result
  std::vector<double> magnitude;  ///< |x| for an activation, |a| + |b| for an add, per element
};

/** @brief y[i] = act(x[i]) for i in [0, n). */
inline elementwise_result activate(joule::activation act, const float* x, std::int64_t n) {
  elementwise_result r{std::vector<double>(n), std::vector<double>(n)};
  for (std::int64_t i = 0; i < n; ++i) {
    r.value[i] = activation(act, x[i]);
    r.magnitude[i] = std::abs(double(x[i]));
  }
  return r;
}

/** @brief y[i] = act(a[i] + b[i mod b_count]) for i in [0, n). */
inline elementwise_result add(joule::activation act, const float* a, std::int64_t n, const float* b,
                              std::int64_t b_count) {
  elementwise_result r{std::vector<double>(n), std::vector<double>(n)};
  for (std::int64_t i = 0; i < n; ++i) {
    const double bi = b[i % b_count];
    r.value[i] = activation(act, double(a[i]) + bi);
    r.magnitude[i] = std::abs(double(a[i])) + std::abs(bi);
  }
  return r;
}

}  // namespace joule_ref
