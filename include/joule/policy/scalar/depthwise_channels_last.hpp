#pragma once
/** @file depthwise_channels_last.hpp @brief scalar depthwise convolution on channels-last images. */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/depthwise_channels_last.hpp>
#include <joule/policy/scalar.hpp>

namespace joule {

template <>
struct kernel<depthwise_channels_last_op, scalar> {
  static void run(cpu_context&, const depthwise_channels_last_op& op) {
    const std::int64_t c_count = op.channels;
    for (std::int64_t b = 0; b < op.n; ++b) {
      const float* in = op.input + b * op.h * op.w * c_count;
      float* image_out = op.output + b * op.out_h * op.out_w * c_count;
      for (std::int64_t oy = 0; oy < op.out_h; ++oy)
        for (std::int64_t ox = 0; ox < op.out_w; ++ox) {
          // The pixel's channels accumulate in its output row, channel innermost: contiguous in
          // the input, the weight and the output alike.
          float* out = image_out + (oy * op.out_w + ox) * c_count;
          for (std::int64_t c = 0; c < c_count; ++c) out[c] = op.bias ? op.bias[c] : 0.f;
          for (std::int64_t ky = 0; ky < op.kernel; ++ky) {
            const std::int64_t iy = oy * op.stride - op.pad + ky;
            if (iy < 0 || iy >= op.h) continue;
            for (std::int64_t kx = 0; kx < op.kernel; ++kx) {
              const std::int64_t ix = ox * op.stride - op.pad + kx;
              if (ix < 0 || ix >= op.w) continue;
              const float* x = in + (iy * op.w + ix) * c_count;
              const float* weight = op.weight + (ky * op.kernel + kx) * c_count;
              for (std::int64_t c = 0; c < c_count; ++c) out[c] += x[c] * weight[c];
            }
          }
          for (std::int64_t c = 0; c < c_count; ++c) out[c] = apply_activation(op.act, out[c]);
        }
    }
  }
};

}  // namespace joule
