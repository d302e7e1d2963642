#pragma once
/** @file batch_norm.hpp @brief The batch_norm (inference form) operator's contract. */
#include <cstdint>

#include <joule/ops/desc/activation.hpp>

namespace joule {

/**
 * @brief y = act(gamma · (x - mean) / sqrt(var + eps) + beta) per channel, on [n, c, inner].
 *
 * inner is the product of the spatial axes (h · w for NCHW). x and y may be the same buffer.
 */
struct batch_norm_op {
  std::int64_t n = 0, c = 0, inner = 0;
  const float* x = nullptr;
  float* y = nullptr;
  const float* mean = nullptr;
  const float* var = nullptr;
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float eps = 1e-5f;
  activation act = activation::none;

  static constexpr const char* name() noexcept { return "batch_norm"; }
};

}  // namespace joule
