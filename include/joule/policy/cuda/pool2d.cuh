#pragma once
/**
 * @file pool2d.cuh
 * @brief cuda pool2d: max and average pooling, one thread per output element over the window
 * clipped to the input, with the scalar kernel's rules for padding, NaN and the average's divisor.
 */
#include <cstdint>

#include <joule/core/kernel.hpp>
#include <joule/ops/desc/pool2d.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/launch.cuh>

namespace joule {

namespace cuda_detail {
template <class T>
__global__ void pool2d_kernel(pool2d_op op) {
  const std::int64_t pixels = op.out_h * op.out_w, total = op.n * op.c * pixels;
  for (std::int64_t e = grid_index(); e < total; e += grid_stride()) {
    const std::int64_t plane = e / pixels, pixel = e - plane * pixels;
    const std::int64_t oy = pixel / op.out_w, ox = pixel - oy * op.out_w;
    const T* in = op.input + plane * op.h * op.w;
    // The window clipped to the input: padding never wins a max and adds nothing to a sum.
    const std::int64_t y0 = oy * op.stride_h - op.pad_h, x0 = ox * op.stride_w - op.pad_w;
    const std::int64_t y_begin = y0 < 0 ? 0 : y0, y_end = y0 + op.kh < op.h ? y0 + op.kh : op.h;
    const std::int64_t x_begin = x0 < 0 ? 0 : x0, x_end = x0 + op.kw < op.w ? x0 + op.kw : op.w;
    float result;
    if (op.kind == pool_kind::max) {
      result = -INFINITY;
      for (std::int64_t y = y_begin; y < y_end; ++y)
        for (std::int64_t x = x_begin; x < x_end; ++x) {
          const float v = in[y * op.w + x];
          if (v > result || isnan(v)) result = v;  // once NaN, no comparison replaces it
        }
    } else {
      float sum = 0.f;
      for (std::int64_t y = y_begin; y < y_end; ++y)
        for (std::int64_t x = x_begin; x < x_end; ++x) sum += in[y * op.w + x];
      const std::int64_t count = op.count_include_pad ? op.kh * op.kw : (y_end - y_begin) * (x_end - x_begin);
      result = sum / static_cast<float>(count);
    }
    op.output[e] = result;
  }
}
}  // namespace cuda_detail

template <>
struct kernel<pool2d_op, cuda> {
  static void run(context<cuda>& ctx, const pool2d_op& op) {
    const std::int64_t total = op.n * op.c * op.out_h * op.out_w;
    if (total == 0) return;
    cuda_detail::pool2d_kernel<float>
        <<<cuda_detail::blocks_for(total), cuda_detail::kBlockThreads, 0, ctx.stream()>>>(op);
    JOULE_CUDA_CHECK_LAUNCH(pool2d_kernel, "pool2d ", op.kind == pool_kind::max ? "max" : "average", " n=", op.n,
                            " c=", op.c, " h=", op.h, " w=", op.w, " k=", op.kh, "x", op.kw);
  }
};

}  // namespace joule
