#pragma once
// Double-precision reference for inference batch-norm, with the magnitude its error bound scales with.
#include <cmath>
#include <cstdint>

#include <joule/ops/desc/activation.hpp>

#include "conv2d.hpp"

namespace joule_ref {

/**
 * @brief Element @p index (flat, of [n, c, inner]) of act(gamma · (x - mean) / sqrt(var + eps) + beta).
 * The magnitude is |x · s| + |mean · s| + |beta| with s = gamma / sqrt(var + eps): the terms a float
 * kernel computing x · s + (beta - mean · s) rounds.
 */
inline element batch_norm_at(std::int64_t c, std::int64_t inner, const float* x, const float* mean, const float* var,
                             const float* gamma, const float* beta, float eps, joule::activation act,
                             std::int64_t index) {
  const std::int64_t ch = index / inner % c;
  const double s = gamma[ch] / std::sqrt(static_cast<double>(var[ch]) + static_cast<double>(eps));
  const double value = (x[index] - static_cast<double>(mean[ch])) * s + beta[ch];
  return {activation(act, value), std::abs(x[index] * s) + std::abs(mean[ch] * s) + std::abs(beta[ch])};
}

}  // namespace joule_ref
