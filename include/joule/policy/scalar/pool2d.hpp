#pragma once
/** @file pool2d.hpp @brief scalar pool2d: max and average pooling in plain loops, the readable reference. */
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/pool2d.hpp>
#include <joule/policy/scalar.hpp>

namespace joule {

template <>
struct kernel<pool2d_op, scalar> {
  static void run(cpu_context&, const pool2d_op& op) {
    for (std::int64_t plane = 0; plane < op.n * op.c; ++plane) {
      const float* in = op.input + plane * op.h * op.w;
      float* out = op.output + plane * op.out_h * op.out_w;
      for (std::int64_t oy = 0; oy < op.out_h; ++oy) {
        // The window clipped to the input: padding never wins a max and adds nothing to a sum.
        const std::int64_t y0 = oy * op.stride_h - op.pad_h;
        const std::int64_t y_begin = std::max<std::int64_t>(y0, 0), y_end = std::min(y0 + op.kh, op.h);
        for (std::int64_t ox = 0; ox < op.out_w; ++ox) {
          const std::int64_t x0 = ox * op.stride_w - op.pad_w;
          const std::int64_t x_begin = std::max<std::int64_t>(x0, 0), x_end = std::min(x0 + op.kw, op.w);
          float result;
          if (op.kind == pool_kind::max) {
            result = -std::numeric_limits<float>::infinity();
            for (std::int64_t y = y_begin; y < y_end; ++y)
              for (std::int64_t x = x_begin; x < x_end; ++x) {
                const float v = in[y * op.w + x];
                if (v > result || std::isnan(v)) result = v;  // once NaN, no comparison replaces it
              }
          } else {
            float sum = 0.f;
            for (std::int64_t y = y_begin; y < y_end; ++y)
              for (std::int64_t x = x_begin; x < x_end; ++x) sum += in[y * op.w + x];
            const std::int64_t count = op.count_include_pad ? op.kh * op.kw : (y_end - y_begin) * (x_end - x_begin);
            result = sum / static_cast<float>(count);
          }
          out[oy * op.out_w + ox] = result;
        }
      }
    }
  }
};

}  // namespace joule
