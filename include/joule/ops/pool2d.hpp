#pragma once
/**
 * @file pool2d.hpp
 * @brief ops::pool2d (PyTorch's MaxPool2d / AvgPool2d, floor mode) and ops::global_avg_pool
 * (AdaptiveAvgPool2d(1) without the trailing 1 x 1) on NCHW float32.
 *
 * The front ends hold no arithmetic: they check shapes and parameters, build the op's descriptor
 * and forward it to the policy's kernel, found along the policy's fallback chain.
 */
#include <cstdint>

#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/ops/desc/pool2d.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/global_avg_pool.hpp>
#include <joule/policy/scalar/pool2d.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/global_avg_pool.hpp>
#include <joule/policy/simd/pool2d.hpp>
#endif
#if JOULE_CUDA_KERNELS
#include <joule/policy/cuda/global_avg_pool.cuh>
#include <joule/policy/cuda/pool2d.cuh>
#endif

namespace joule::ops {

/** @brief Window of ops::pool2d. count_include_pad only matters for averages (PyTorch's default). */
struct pool2d_params {
  pool_kind kind = pool_kind::max;
  std::int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  bool count_include_pad = true;
};

/**
 * @brief Output shape [n, c, out_h, out_w] of pooling @p input [n, c, h, w],
 * out = (in + 2 · pad - k) / stride + 1.
 *
 * Throws joule::error naming the shape for a rank other than 4, an empty plane, a kernel size or
 * stride <= 0, negative padding, padding over half the kernel (PyTorch's rule: pad <= k / 2, so every
 * window holds at least one input element), and a window larger than the padded input.
 */
inline shape pool2d_output_shape(const shape& input, const pool2d_params& p) {
  constexpr const char* op = "pool2d";
  require(input.rank() == 4, op, ": input must have rank 4 [n, c, h, w], got shape ", input);
  require(input[2] > 0 && input[3] > 0, op, ": input ", input, " has an empty plane");
  require(p.kh > 0 && p.kw > 0, op, ": kernel size must be positive, got (", p.kh, ", ", p.kw, ") for input ", input);
  require(p.stride_h > 0 && p.stride_w > 0, op, ": negative or zero strides (", p.stride_h, ", ", p.stride_w,
          ") for input ", input);
  require(p.pad_h >= 0 && p.pad_w >= 0, op, ": negative padding (", p.pad_h, ", ", p.pad_w, ") for input ", input);
  require(p.pad_h <= p.kh / 2 && p.pad_w <= p.kw / 2, op, ": padding (", p.pad_h, ", ", p.pad_w,
          ") must be at most half the kernel size (", p.kh, ", ", p.kw, ")");
  const std::int64_t padded_h = input[2] + 2 * p.pad_h, padded_w = input[3] + 2 * p.pad_w;
  require(padded_h >= p.kh && padded_w >= p.kw, op,
          ": kernel larger than the padded input, the output would be empty: input ", input, " padded by (", p.pad_h,
          ", ", p.pad_w, ") against kernel (", p.kh, ", ", p.kw, ")");
  return shape{input[0], input[1], (padded_h - p.kh) / p.stride_h + 1, (padded_w - p.kw) / p.stride_w + 1};
}

/** @brief For front ends: the pool2d_op of a pooling of @p input (shape) to @p out_shape, both checked. */
inline pool2d_op pool2d_desc(const shape& input, const shape& out_shape, const pool2d_params& p, const float* in,
                             float* out) noexcept {
  return {.kind = p.kind,
          .n = input[0],
          .c = input[1],
          .h = input[2],
          .w = input[3],
          .kh = p.kh,
          .kw = p.kw,
          .stride_h = p.stride_h,
          .stride_w = p.stride_w,
          .pad_h = p.pad_h,
          .pad_w = p.pad_w,
          .count_include_pad = p.count_include_pad,
          .out_h = out_shape[2],
          .out_w = out_shape[3],
          .input = in,
          .output = out};
}

/**
 * @brief Max or average pooling: output [n, c, out_h, out_w] = pool(input [n, c, h, w]).
 *
 * Padding never wins a max; a NaN in a window makes that window's max NaN. An empty batch does
 * nothing. The output must not overlap the input.
 */
template <backend P>
void pool2d(context<P>& ctx, tensor_view<const float> input, tensor_view<float> output, const pool2d_params& p) {
  constexpr const char* op = "pool2d";
  detail::check_rank(op, "input", input, 4);
  const shape out_shape = pool2d_output_shape(input.shape(), p);
  detail::check_shape(op, "output", output, out_shape);
  detail::check_no_overlap(op, "output", output, "input", input);
  if (output.numel() == 0) return;
  kernel_for<pool2d_op, P>::run(ctx, pool2d_desc(input.shape(), out_shape, p, input.data(), output.data()));
}

/**
 * @brief The mean of every plane: output [n, c] = mean over (h, w) of input [n, c, h, w].
 * An empty batch does nothing; an empty plane is an error. The output must not overlap the input.
 */
template <backend P>
void global_avg_pool(context<P>& ctx, tensor_view<const float> input, tensor_view<float> output) {
  constexpr const char* op = "global_avg_pool";
  detail::check_rank(op, "input", input, 4);
  require(input.dim(2) > 0 && input.dim(3) > 0, op, ": input ", input.shape(), " has an empty plane");
  detail::check_shape(op, "output", output, shape{input.dim(0), input.dim(1)});
  detail::check_no_overlap(op, "output", output, "input", input);
  if (output.numel() == 0) return;
  const global_avg_pool_op desc{.n = input.dim(0),
                                .c = input.dim(1),
                                .hw = input.dim(2) * input.dim(3),
                                .input = input.data(),
                                .output = output.data()};
  kernel_for<global_avg_pool_op, P>::run(ctx, desc);
}

}  // namespace joule::ops
