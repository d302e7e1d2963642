#pragma once
/**
 * @file conv2d_max_pool.hpp
 * @brief ops::conv2d_max_pool: a convolution with its bias and activation, then max pooling, for
 * a policy that runs the two together (conv2d_fuses_max_pool<P>): the convolution's output, which
 * the pooling reads once and shrinks (ResNet-50's stem: 3.2 MB an image, pooled to 0.8), never goes
 * out to memory.
 */
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/ops/conv2d.hpp>
#include <joule/ops/desc/conv2d_max_pool.hpp>
#include <joule/ops/pool2d.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/conv2d_max_pool.hpp>
#endif

namespace joule::ops {

/**
 * @brief output = max_pool(act(conv2d(input, weight) + bias)): what ops::conv2d then ops::pool2d
 * with @p pool (kind max) compute, for a policy with conv2d_fuses_max_pool<P>.
 *
 * Throws joule::error naming the shapes on any bad argument of either (see conv2d_output_shape and
 * pool2d_output_shape), for a residual (the pool would have to come after it) and for a pooling
 * other than max. The output must not overlap the input, weight or bias.
 */
template <backend P>
void conv2d_max_pool(context<P>& ctx, tensor_view<const float> input, tensor_view<const float> weight,
                     tensor_view<float> output, const conv2d_params& conv, const conv2d_epilogue& ep,
                     const pool2d_params& pool) {
  static_assert(conv2d_fuses_max_pool<P>, "this policy runs ops::conv2d and then ops::pool2d instead");
  constexpr const char* op = "conv2d_max_pool";
  detail::check_rank(op, "input", input, 4);
  detail::check_rank(op, "weight", weight, 4);
  const shape conv_shape = conv2d_output_shape(input.shape(), weight.shape(), conv);
  require(pool.kind == pool_kind::max, op, ": the pooling must be max, got average");
  require(ep.residual.is_none(), op, ": takes no residual (the pooling would have to follow it)");
  const shape out_shape = pool2d_output_shape(conv_shape, pool);
  detail::check_shape(op, "output", output, out_shape);
  detail::check_no_overlap(op, "output", output, "input", input);
  detail::check_no_overlap(op, "output", output, "weight", weight);
  if (!ep.bias.is_none()) detail::check_no_overlap(op, "output", output, "bias", ep.bias);
  conv2d_max_pool_op desc{};
  // The convolution's output is pool's input: in no tensor, so neither has a pointer to it.
  desc.conv = conv2d_desc(op, input, weight, tensor_view<float>{}, conv, conv_shape, ep);
  desc.pool = pool2d_desc(conv_shape, out_shape, pool, nullptr, output.data());
  if (output.numel() == 0) return;
  kernel_for<conv2d_max_pool_op, P>::run(ctx, desc);
}

}  // namespace joule::ops
