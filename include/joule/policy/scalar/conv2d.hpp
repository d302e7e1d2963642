#pragma once
/** @file conv2d.hpp @brief scalar conv2d: direct convolution in plain loops, the readable reference. */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/scalar.hpp>

namespace joule {

template <>
struct kernel<conv2d_op, scalar> {
  static void run(cpu_context&, const conv2d_op& op) {
    const std::int64_t cin_g = op.c_in / op.groups, cout_g = op.c_out / op.groups;
    const std::int64_t pixels = op.out_h * op.out_w;
    for (std::int64_t b = 0; b < op.n; ++b) {
      for (std::int64_t oc = 0; oc < op.c_out; ++oc) {
        const std::int64_t group = oc / cout_g;
        float* out = op.output + (b * op.c_out + oc) * pixels;
        std::fill(out, out + pixels, 0.f);
        // Accumulate one (input channel, tap) at a time over the whole output plane, visiting only
        // the rows and columns where that tap lands inside the input: padding adds nothing.
        for (std::int64_t ic = 0; ic < cin_g; ++ic) {
          const float* in = op.input + (b * op.c_in + group * cin_g + ic) * op.h * op.w;
          const float* filter = op.weight + (oc * cin_g + ic) * op.kh * op.kw;
          for (std::int64_t ky = 0; ky < op.kh; ++ky) {
            for (std::int64_t kx = 0; kx < op.kw; ++kx) {
              const float weight = filter[ky * op.kw + kx];
              const std::int64_t x0 = kx * op.dil_w - op.pad_w;
              const detail::column_span cols = detail::valid_columns(x0, op.stride_w, op.w, op.out_w);
              for (std::int64_t oy = 0; oy < op.out_h; ++oy) {
                const std::int64_t iy = oy * op.stride_h - op.pad_h + ky * op.dil_h;
                if (iy < 0 || iy >= op.h) continue;
                const float* in_row = in + iy * op.w;
                float* out_row = out + oy * op.out_w;
                for (std::int64_t ox = cols.begin; ox < cols.end; ++ox)
                  out_row[ox] += weight * in_row[ox * op.stride_w + x0];
              }
            }
          }
        }
        const float bias = op.ep.bias ? op.ep.bias[oc] : 0.f;
        const float* residual = op.ep.residual ? op.ep.residual + (b * op.c_out + oc) * pixels : nullptr;
        for (std::int64_t i = 0; i < pixels; ++i)
          out[i] = apply_activation(op.ep.act, residual ? out[i] + bias + residual[i] : out[i] + bias);
      }
    }
  }
};

}  // namespace joule
