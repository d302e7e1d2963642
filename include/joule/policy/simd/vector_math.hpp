#pragma once
/**
 * @file vector_math.hpp
 * @brief What the simd policy's kernels share: the batch type, vector activations, and the
 * vectorised GEMM epilogue for one row segment.
 */
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include <joule/ops/desc/activation.hpp>

namespace joule::simd_detail {

using batch = xsimd::batch<float>;
inline constexpr std::int64_t kLanes = static_cast<std::int64_t>(batch::size);

/** @brief The transcendental activations on a vector: out of line, they are long and rarely per-tile. */
[[gnu::noinline]] inline batch activate_transcendental(activation act, batch x) noexcept {
  switch (act) {
    case activation::gelu_erf:
      return batch(0.5f) * x * (batch(1.f) + xsimd::erf(x * batch(0.70710678118654752f)));
    case activation::gelu_tanh: {
      const batch inner = batch(0.79788456080286536f) * (x + batch(0.044715f) * x * x * x);
      return batch(0.5f) * x * (batch(1.f) + xsimd::tanh(inner));
    }
    case activation::tanh:
      return xsimd::tanh(x);
    default:
      return x;
  }
}

/**
 * @brief One activation on a vector, matching apply_activation() lane by lane.
 *
 * Always inlined: the GEMM and convolution epilogues call it once per vector of output, and as a
 * call (GCC's choice at -O2) it cost 6% of MobileNetV2. ReLU and ReLU6 use select() on comparisons
 * that are false for NaN, so NaN lanes pass through unchanged; x86 max/min instructions would
 * return the other operand and hide the NaN.
 */
[[gnu::always_inline]] inline batch activate(activation act, batch x) noexcept {
  switch (act) {
    case activation::none:
      return x;
    case activation::relu:
      return xsimd::select(x < batch(0.f), batch(0.f), x);
    case activation::relu6: {
      const batch low = xsimd::select(x < batch(0.f), batch(0.f), x);
      return xsimd::select(low > batch(6.f), batch(6.f), low);
    }
    default:
      return activate_transcendental(act, x);
  }
}

/**
 * @brief act(alpha · v + bias + residual) for the kLanes outputs at row @p row, columns
 * [col, col + kLanes): the epilogue on a vector still in registers.
 */
[[gnu::always_inline]] inline batch epilogue_vector(const epilogue& ep, float alpha, batch v, std::int64_t row,
                                                    std::int64_t col) noexcept {
  if (alpha != 1.f) v *= batch(alpha);
  if (ep.bias) v += ep.axis == bias_axis::row ? batch(ep.bias[row]) : batch::load_unaligned(ep.bias + col);
  if (ep.residual) v += batch::load_unaligned(ep.residual + row * ep.ldr + col);
  return activate(ep.act, v);
}

/**
 * @brief Finishes row @p row, columns [col, col + count) of a GEMM output in place:
 * c = act(alpha · c + bias + residual). Whole vectors first, then a scalar tail.
 */
inline void epilogue_row(const epilogue& ep, float alpha, float* c, std::int64_t row, std::int64_t col,
                         std::int64_t count) noexcept {
  std::int64_t j = 0;
  for (; j + kLanes <= count; j += kLanes)
    epilogue_vector(ep, alpha, batch::load_unaligned(c + j), row, col + j).store_unaligned(c + j);
  for (; j < count; ++j) c[j] = apply_epilogue(ep, alpha * c[j], row, col + j);
}

}  // namespace joule::simd_detail
