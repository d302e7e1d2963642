#pragma once
/**
 * @file softmax.hpp
 * @brief ops::softmax over the last axis, numerically stable.
 *
 * The front end holds no arithmetic: it checks the views, builds a softmax_op and forwards it to
 * the policy's kernel (policy/<backend>/softmax.hpp), found along the policy's fallback chain.
 */
#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/ops/desc/softmax.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/softmax.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/softmax.hpp>
#endif
#if JOULE_CUDA_KERNELS
#include <joule/policy/cuda/softmax.cuh>
#endif

namespace joule::ops {

/**
 * @brief y = exp(x - max) / sum(exp(x - max)) over the last axis of x (rank >= 1). y has x's
 * shape and may be x itself. A NaN makes its row NaN and no other; -inf is a masked position (0).
 */
template <backend P>
void softmax(context<P>& ctx, tensor_view<const float> x, tensor_view<float> y) {
  constexpr const char* op = "softmax";
  require(x.rank() >= 1, op, ": x must have rank >= 1, got shape ", x.shape());
  detail::check_view(op, "x", x);
  detail::check_shape(op, "y", y, x.shape());
  if (y.data() != x.data()) detail::check_no_overlap(op, "y", y, "x", x);
  if (x.numel() == 0) return;
  kernel_for<softmax_op, P>::run(
      ctx, softmax_op{.rows = x.shape().prefix(x.rank() - 1), .cols = x.dim(-1), .x = x.data(), .y = y.data()});
}

}  // namespace joule::ops
