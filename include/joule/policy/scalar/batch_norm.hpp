#pragma once
/** @file batch_norm.hpp @brief scalar batch_norm: inference batch normalisation in plain loops. */
#include <cmath>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/batch_norm.hpp>
#include <joule/policy/scalar.hpp>

namespace joule {

template <>
struct kernel<batch_norm_op, scalar> {
  static void run(cpu_context&, const batch_norm_op& op) {
    for (std::int64_t b = 0; b < op.n; ++b) {
      for (std::int64_t ch = 0; ch < op.c; ++ch) {
        // y = x · scale + shift: one multiply-add per element, as PyTorch's CPU inference does.
        const float scale = op.gamma[ch] / std::sqrt(op.var[ch] + op.eps);
        const float shift = op.beta[ch] - op.mean[ch] * scale;
        const std::int64_t offset = (b * op.c + ch) * op.inner;
        for (std::int64_t i = 0; i < op.inner; ++i)
          op.y[offset + i] = apply_activation(op.act, op.x[offset + i] * scale + shift);
      }
    }
  }
};

}  // namespace joule
