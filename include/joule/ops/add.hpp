#pragma once
/**
 * @file add.hpp
 * @brief ops::add: y = act(a + b), with b broadcast over a's leading axes.
 *
 * The front end holds no arithmetic: it checks the views, builds an add_op and forwards it to the
 * policy's kernel (policy/<backend>/add.hpp), found along the policy's fallback chain.
 */
#include <algorithm>

#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/ops/desc/elementwise.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/add.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/add.hpp>
#endif
#if JOULE_CUDA_KERNELS
#include <joule/policy/cuda/add.cuh>
#endif

namespace joule::ops {

/**
 * @brief y = act(a + b). b's shape must equal a trailing part of a's shape and is repeated over
 * a's leading axes: [batch, seq, hidden] + [seq, hidden] (BERT's position table) or + [hidden]
 * (a bias). y has a's shape and may be a itself (or b itself when b has a's shape), but must not
 * partly overlap either.
 */
template <backend P>
void add(context<P>& ctx, tensor_view<const float> a, tensor_view<const float> b, tensor_view<float> y,
         activation act = activation::none) {
  constexpr const char* op = "add";
  detail::check_view(op, "a", a);
  detail::check_view(op, "b", b);
  const auto a_dims = a.shape().dims();
  const auto b_dims = b.shape().dims();
  const bool trailing = b.rank() <= a.rank() && std::equal(b_dims.begin(), b_dims.end(), a_dims.end() - b.rank());
  require(trailing, op, ": b of shape ", b.shape(), " is not a trailing part of a's shape ", a.shape());
  detail::check_shape(op, "y", y, a.shape());
  if (y.data() != a.data()) detail::check_no_overlap(op, "y", y, "a", a);
  if (!(y.data() == b.data() && b.numel() == a.numel())) detail::check_no_overlap(op, "y", y, "b", b);
  if (a.numel() == 0) return;
  kernel_for<add_op, P>::run(
      ctx, add_op{.count = a.numel(), .b_count = b.numel(), .a = a.data(), .b = b.data(), .y = y.data(), .act = act});
}

}  // namespace joule::ops
