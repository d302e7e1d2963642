#pragma once
/** @file layer_norm.hpp @brief The layer_norm operator's contract. */
#include <cstdint>

namespace joule {

/**
 * @brief y = gamma · (z - mean(z)) / sqrt(var(z) + eps) + beta over the last axis, z = x + residual.
 *
 * x, residual and y are [rows, cols]; residual may be null (then z = x), the fused residual add of
 * a BERT layer. Variance is the biased one (divide by cols), as PyTorch's LayerNorm. y may alias x.
 */
struct layer_norm_op {
  std::int64_t rows = 0, cols = 0;
  const float* x = nullptr;
  const float* residual = nullptr;
  float* y = nullptr;
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float eps = 1e-5f;

  static constexpr const char* name() noexcept { return "layer_norm"; }
};

}  // namespace joule
