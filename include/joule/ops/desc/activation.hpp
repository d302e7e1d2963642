#pragma once
/**
 * @file activation.hpp
 * @brief The activations joule fuses into kernels, and the epilogue every GEMM-shaped kernel applies.
 */
#include <cmath>
#include <cstdint>

namespace joule {

/** @brief Elementwise activations of the reference models. */
enum class activation {
  none,
  relu,       ///< max(x, 0); NaN stays NaN
  relu6,      ///< min(max(x, 0), 6); NaN stays NaN
  gelu_erf,   ///< x/2 (1 + erf(x / sqrt 2)), BERT's exact GELU
  gelu_tanh,  ///< x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh approximation
  tanh,
};

inline constexpr const char* activation_name(activation a) noexcept {
  switch (a) {
    case activation::none:
      return "none";
    case activation::relu:
      return "relu";
    case activation::relu6:
      return "relu6";
    case activation::gelu_erf:
      return "gelu_erf";
    case activation::gelu_tanh:
      return "gelu_tanh";
    case activation::tanh:
      return "tanh";
  }
  return "?";
}

/**
 * @brief One activation on one float, the scalar definition all policies match.
 *
 * ReLU is written as a comparison that is false for NaN, so NaN passes through unchanged (as in
 * PyTorch) instead of turning into 0.
 */
inline float apply_activation(activation a, float x) noexcept {
  switch (a) {
    case activation::none:
      return x;
    case activation::relu:
      return x < 0.f ? 0.f : x;
    case activation::relu6:
      return x < 0.f ? 0.f : (x > 6.f ? 6.f : x);
    case activation::gelu_erf:
      return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
    case activation::gelu_tanh: {
      const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.f + std::tanh(inner));
    }
    case activation::tanh:
      return std::tanh(x);
  }
  return x;
}

/** @brief Which index of the output a bias vector runs along. */
enum class bias_axis {
  column,  ///< bias[n]: a linear layer's bias, C[m, n] += bias[n]
  row,     ///< bias[m]: a convolution as W·columns, C[m = output channel, n = pixel] += bias[m]
};

/**
 * @brief What a GEMM-shaped kernel does to each accumulated value before storing it:
 * C = act(acc + bias + residual). Every pointer may be null (then that step is skipped).
 */
struct epilogue {
  const float* bias = nullptr;
  bias_axis axis = bias_axis::column;
  const float* residual = nullptr;  ///< same layout as the output; for gemm, row stride ldr
  std::int64_t ldr = 0;
  activation act = activation::none;
};

/** @brief The scalar epilogue on one value at output position (m, n). */
inline float apply_epilogue(const epilogue& ep, float acc, std::int64_t m, std::int64_t n) noexcept {
  if (ep.bias) acc += ep.bias[ep.axis == bias_axis::column ? n : m];
  if (ep.residual) acc += ep.residual[m * ep.ldr + n];
  return apply_activation(ep.act, acc);
}

}  // namespace joule
