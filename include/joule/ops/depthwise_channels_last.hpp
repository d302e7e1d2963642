#pragma once
/**
 * @file depthwise_channels_last.hpp
 * @brief ops::depthwise_conv2d_channels_last: a depthwise convolution (+ bias, activation) on
 * images stored channels-last, [n, h, w, channels], as the inside of MobileNetV2's blocks on small
 * planes runs (nn::inverted_residual).
 *
 * The front end holds no arithmetic: it checks the views, builds a depthwise_channels_last_op and
 * forwards it to the policy's kernel (policy/<backend>/depthwise_channels_last.hpp), found along
 * the policy's fallback chain.
 */
#include <cstdint>

#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/ops/desc/depthwise_channels_last.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/depthwise_channels_last.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/depthwise_channels_last.hpp>
#endif

namespace joule::ops {

/** @brief The output shape [n, out_h, out_w, channels] of a channels-last depthwise convolution. */
inline shape depthwise_channels_last_shape(const shape& input, std::int64_t kernel, std::int64_t stride,
                                           std::int64_t pad) {
  return shape{input[0], (input[1] + 2 * pad - kernel) / stride + 1, (input[2] + 2 * pad - kernel) / stride + 1,
               input[3]};
}

/**
 * @brief out = act(depthwise(in, weight) + bias) on channels-last images: in [n, h, w, c], weight
 * [k, k, c] (PyTorch's [c, 1, k, k] with the channels moved last), bias [c] or none, out
 * [n, h', w', c] with h' = (h + 2 pad - k) / stride + 1 (w' alike). Throws joule::error naming
 * what does not fit.
 */
template <backend P>
void depthwise_conv2d_channels_last(context<P>& ctx, tensor_view<const float> in, tensor_view<const float> weight,
                                    tensor_view<float> out, std::int64_t stride, std::int64_t pad,
                                    tensor_view<const float> bias = {}, activation act = activation::none) {
  constexpr const char* op = "depthwise_conv2d_channels_last";
  detail::check_rank(op, "input", in, 4);
  detail::check_rank(op, "weight", weight, 3);
  const std::int64_t k = weight.dim(0), channels = in.dim(3);
  require(weight.dim(1) == k && weight.dim(2) == channels, op, ": weight must be [k, k, ", channels,
          "] for an input of ", in.shape(), ", got ", weight.shape());
  require(k >= 1 && stride >= 1 && pad >= 0 && pad < k, op, ": kernel ", k, ", stride ", stride, " and padding ", pad,
          " must have kernel >= 1, stride >= 1 and 0 <= padding < kernel");
  require(in.dim(1) + 2 * pad >= k && in.dim(2) + 2 * pad >= k, op, ": input ", in.shape(),
          " is smaller than the kernel ", k, " with padding ", pad);
  detail::check_shape(op, "output", out, depthwise_channels_last_shape(in.shape(), k, stride, pad));
  if (!bias.is_none()) detail::check_shape(op, "bias", bias, shape{channels});
  detail::check_no_overlap(op, "output", out, "input", in);
  detail::check_no_overlap(op, "output", out, "weight", weight);
  if (out.numel() == 0) return;
  kernel_for<depthwise_channels_last_op, P>::run(
      ctx, depthwise_channels_last_op{.n = in.dim(0),
                                      .h = in.dim(1),
                                      .w = in.dim(2),
                                      .channels = channels,
                                      .kernel = k,
                                      .stride = stride,
                                      .pad = pad,
                                      .out_h = out.dim(1),
                                      .out_w = out.dim(2),
                                      .input = in.data(),
                                      .weight = weight.data(),
                                      .bias = bias.is_none() ? nullptr : bias.data(),
                                      .act = act,
                                      .output = out.data()});
}

}  // namespace joule::ops
