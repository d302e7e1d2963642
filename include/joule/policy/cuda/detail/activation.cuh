#pragma once
/**
 * @file activation.cuh
 * @brief apply_activation() on the device: the same definitions as ops/desc/activation.hpp, with
 * CUDA's erff and tanhf (a few ulp, as the host's), never the fast-math intrinsics.
 */
#include <joule/ops/desc/activation.hpp>

namespace joule::cuda_detail {

__device__ inline float activate(activation a, float x) {
  switch (a) {
    case activation::none:
      return x;
    case activation::relu:
      return x < 0.f ? 0.f : x;  // false for NaN: NaN passes through
    case activation::relu6:
      return x < 0.f ? 0.f : (x > 6.f ? 6.f : x);
    case activation::gelu_erf:
      return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case activation::gelu_tanh: {
      const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.f + tanhf(inner));
    }
    case activation::tanh:
      return tanhf(x);
  }
  return x;
}

}  // namespace joule::cuda_detail
