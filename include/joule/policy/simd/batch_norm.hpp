#pragma once
/**
 * @file batch_norm.hpp
 * @brief simd batch_norm: y = act(x · scale + shift) per channel, one FMA per element.
 *
 * The per-channel scale = gamma / sqrt(var + eps) and shift = beta - mean · scale are computed once
 * per call into scratch (not once per image and channel), then every [image, channel] row of inner
 * elements is one vector loop; rows are split across threads.
 */
#include <algorithm>
#include <cmath>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/batch_norm.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule {

template <>
struct kernel<batch_norm_op, simd> {
  static void run(cpu_context& ctx, const batch_norm_op& op) {
    using simd_detail::batch;
    using simd_detail::kLanes;
    scratch_frame frame(ctx);
    float* scale = frame.take<float>(op.c);
    float* shift = frame.take<float>(op.c);
    for (std::int64_t ch = 0; ch < op.c; ++ch) {
      scale[ch] = op.gamma[ch] / std::sqrt(op.var[ch] + op.eps);
      shift[ch] = op.beta[ch] - op.mean[ch] * scale[ch];
    }
    ctx.parallel_for(op.n * op.c, std::max<std::int64_t>(1, 32768 / op.inner), [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t row = r0; row < r1; ++row) {
        const std::int64_t ch = row % op.c;
        const float* x = op.x + row * op.inner;
        float* y = op.y + row * op.inner;
        const batch a(scale[ch]), b(shift[ch]);
        std::int64_t i = 0;
        for (; i + kLanes <= op.inner; i += kLanes)
          simd_detail::activate(op.act, xsimd::fma(batch::load_unaligned(x + i), a, b)).store_unaligned(y + i);
        for (; i < op.inner; ++i) y[i] = apply_activation(op.act, std::fma(x[i], scale[ch], shift[ch]));
      }
    });
  }
};

}  // namespace joule
