#pragma once
// Double-precision reference for conv2d, one output element at a time (so that a large layer can be
// checked at a random sample of its outputs), with the magnitude its error bound scales with.
#include <cmath>
#include <cstdint>

#include <joule/ops/desc/activation.hpp>

#include "gemm.hpp"

namespace joule_ref {

/** @brief A convolution's sizes (NCHW input, OIHW weight), as PyTorch's Conv2d defines them. */
struct conv2d_problem {
  std::int64_t n, c_in, h, w, c_out, kh, kw;
  std::int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
  std::int64_t out_h, out_w;
};

/** @brief One reference output and the sum of the absolute values of the terms it adds. */
struct element {
  double value;
  double magnitude;
};

/**
 * @brief Output element @p index (flat, of [n, c_out, out_h, out_w]) of
 * act(conv2d(input, weight) + bias + residual); bias and residual may be null. Taps on padding add
 * nothing, so a NaN input reaches exactly the outputs whose window holds it.
 */
inline element conv2d_at(const conv2d_problem& p, const float* input, const float* weight, const float* bias,
                         const float* residual, joule::activation act, std::int64_t index) {
  const std::int64_t ox = index % p.out_w, oy = index / p.out_w % p.out_h;
  const std::int64_t oc = index / (p.out_w * p.out_h) % p.c_out, b = index / (p.out_w * p.out_h * p.c_out);
  const std::int64_t cin_g = p.c_in / p.groups, cout_g = p.c_out / p.groups, group = oc / cout_g;
  double acc = 0, mag = 0;
  for (std::int64_t ic = 0; ic < cin_g; ++ic)
    for (std::int64_t ky = 0; ky < p.kh; ++ky) {
      const std::int64_t iy = oy * p.stride_h - p.pad_h + ky * p.dil_h;
      if (iy < 0 || iy >= p.h) continue;
      for (std::int64_t kx = 0; kx < p.kw; ++kx) {
        const std::int64_t ix = ox * p.stride_w - p.pad_w + kx * p.dil_w;
        if (ix < 0 || ix >= p.w) continue;
        const double x = input[((b * p.c_in + group * cin_g + ic) * p.h + iy) * p.w + ix];
        const double prod = x * weight[((oc * cin_g + ic) * p.kh + ky) * p.kw + kx];
        acc += prod;
        mag += std::abs(prod);
      }
    }
  if (bias) acc += bias[oc], mag += std::abs(bias[oc]);
  if (residual) acc += residual[index], mag += std::abs(residual[index]);
  return {activation(act, acc), mag};
}

}  // namespace joule_ref
