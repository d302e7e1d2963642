#pragma once
/**
 * @file layer_norm.hpp
 * @brief ops::layer_norm over the last axis, with BERT's residual add fused in.
 *
 * The front end holds no arithmetic: it checks the views, builds a layer_norm_op and forwards it
 * to the policy's kernel (policy/<backend>/layer_norm.hpp), found along the policy's fallback chain.
 */
#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/ops/desc/layer_norm.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/layer_norm.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/layer_norm.hpp>
#endif
#if JOULE_CUDA_KERNELS
#include <joule/policy/cuda/layer_norm.cuh>
#endif

namespace joule::ops {

/**
 * @brief y = gamma · (z - mean(z)) / sqrt(var(z) + eps) + beta over the last axis, z = x + residual
 * (or x when residual is not given), PyTorch's LayerNorm with the biased variance.
 *
 * x has rank >= 1 and shape [..., cols]; gamma and beta are [cols]; residual is not given or has
 * x's shape; y has x's shape and may be x itself (or residual itself), but must not partly overlap
 * them, nor overlap gamma or beta. eps must be >= 0.
 */
template <backend P>
void layer_norm(context<P>& ctx, tensor_view<const float> x, tensor_view<const float> gamma,
                tensor_view<const float> beta, tensor_view<float> y, float eps = 1e-5f,
                tensor_view<const float> residual = {}) {
  constexpr const char* op = "layer_norm";
  require(x.rank() >= 1, op, ": x must have rank >= 1, got shape ", x.shape());
  detail::check_view(op, "x", x);
  const std::int64_t cols = x.dim(-1);
  detail::check_shape(op, "gamma", gamma, shape{cols});
  detail::check_shape(op, "beta", beta, shape{cols});
  detail::check_shape(op, "y", y, x.shape());
  require(eps >= 0.f, op, ": eps must be >= 0, got ", eps);
  if (y.data() != x.data()) detail::check_no_overlap(op, "y", y, "x", x);
  detail::check_no_overlap(op, "y", y, "gamma", gamma);
  detail::check_no_overlap(op, "y", y, "beta", beta);
  layer_norm_op desc{.rows = x.shape().prefix(x.rank() - 1),
                     .cols = cols,
                     .x = x.data(),
                     .residual = nullptr,
                     .y = y.data(),
                     .gamma = gamma.data(),
                     .beta = beta.data(),
                     .eps = eps};
  if (!residual.is_none()) {
    detail::check_shape(op, "residual", residual, x.shape());
    if (y.data() != residual.data()) detail::check_no_overlap(op, "y", y, "residual", residual);
    desc.residual = residual.data();
  }
  if (x.numel() == 0) return;
  kernel_for<layer_norm_op, P>::run(ctx, desc);
}

}  // namespace joule::ops
