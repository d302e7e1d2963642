#pragma once
/**
 * @file activation.hpp
 * @brief ops::activate and its named forms (relu, relu6, gelu, tanh): one activation per element.
 *
 * The front end holds no arithmetic: it checks the views, builds an activation_op and forwards it
 * to the policy's kernel (policy/<backend>/activation.hpp), found along the policy's fallback chain.
 */
#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/ops/desc/elementwise.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/activation.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/activation.hpp>
#endif
#if JOULE_CUDA_KERNELS
#include <joule/policy/cuda/activation.cuh>
#endif

namespace joule::ops {

/**
 * @brief y = act(x) elementwise. x and y must have the same shape; y may be x itself (in place)
 * but must not partly overlap it. NaN stays NaN under every activation.
 */
template <backend P>
void activate(context<P>& ctx, tensor_view<const float> x, tensor_view<float> y, activation act) {
  constexpr const char* op = "activation";
  detail::check_view(op, "x", x);
  detail::check_shape(op, "y", y, x.shape());
  if (y.data() != x.data()) detail::check_no_overlap(op, "y", y, "x", x);
  if (x.numel() == 0) return;
  kernel_for<activation_op, P>::run(ctx, activation_op{.act = act, .count = x.numel(), .x = x.data(), .y = y.data()});
}

/** @brief y = max(x, 0), NaN passing through. */
template <backend P>
void relu(context<P>& ctx, tensor_view<const float> x, tensor_view<float> y) {
  activate(ctx, x, y, activation::relu);
}

/** @brief y = min(max(x, 0), 6), NaN passing through. */
template <backend P>
void relu6(context<P>& ctx, tensor_view<const float> x, tensor_view<float> y) {
  activate(ctx, x, y, activation::relu6);
}

/** @brief GELU: exact (erf, BERT's) by default, or the tanh approximation. */
template <backend P>
void gelu(context<P>& ctx, tensor_view<const float> x, tensor_view<float> y, bool tanh_approximation = false) {
  activate(ctx, x, y, tanh_approximation ? activation::gelu_tanh : activation::gelu_erf);
}

/** @brief y = tanh(x). */
template <backend P>
void tanh(context<P>& ctx, tensor_view<const float> x, tensor_view<float> y) {
  activate(ctx, x, y, activation::tanh);
}

}  // namespace joule::ops
