#pragma once
/**
 * @file batch_norm.hpp
 * @brief ops::batch_norm (inference form, PyTorch's BatchNorm2d in eval mode) and
 * ops::fold_batch_norm, which merges a batch-norm into the convolution before it.
 *
 * batch_norm holds no arithmetic: it checks shapes, builds a batch_norm_op and forwards it to the
 * policy's kernel. fold_batch_norm is a host-side weight transformation, done once when a model is
 * compiled, so it runs here in double precision rather than in a kernel.
 */
#include <cmath>
#include <cstdint>
#include <vector>

#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/ops/desc/batch_norm.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/batch_norm.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/batch_norm.hpp>
#endif
#if JOULE_CUDA_KERNELS
#include <joule/policy/cuda/batch_norm.cuh>
#endif

namespace joule::ops {

/**
 * @brief Inference batch-norm over axis 1 of [n, c, ...] (rank >= 2):
 * y = act(gamma · (x - mean) / sqrt(var + eps) + beta), with mean, var, gamma and beta of shape [c].
 *
 * y may be x itself (in place) but must not partly overlap it, nor overlap the parameters. An empty
 * tensor does nothing. Throws joule::error naming the shapes when they do not fit.
 */
template <backend P>
void batch_norm(context<P>& ctx, tensor_view<const float> x, tensor_view<float> y, tensor_view<const float> mean,
                tensor_view<const float> var, tensor_view<const float> gamma, tensor_view<const float> beta,
                float eps = 1e-5f, activation act = activation::none) {
  constexpr const char* op = "batch_norm";
  require(x.rank() >= 2, op, ": x must have rank >= 2 [n, c, ...], got shape ", x.shape());
  detail::check_view(op, "x", x);
  detail::check_shape(op, "y", y, x.shape());
  const std::int64_t c = x.dim(1);
  detail::check_shape(op, "mean", mean, shape{c});
  detail::check_shape(op, "var", var, shape{c});
  detail::check_shape(op, "gamma", gamma, shape{c});
  detail::check_shape(op, "beta", beta, shape{c});
  if (static_cast<const void*>(y.data()) != static_cast<const void*>(x.data()))
    detail::check_no_overlap(op, "y", y, "x", x);
  detail::check_no_overlap(op, "y", y, "mean", mean);
  detail::check_no_overlap(op, "y", y, "var", var);
  detail::check_no_overlap(op, "y", y, "gamma", gamma);
  detail::check_no_overlap(op, "y", y, "beta", beta);
  if (x.numel() == 0) return;
  std::int64_t inner = 1;
  for (int axis = 2; axis < x.rank(); ++axis) inner *= x.dim(axis);
  const batch_norm_op desc{.n = x.dim(0),
                           .c = c,
                           .inner = inner,
                           .x = x.data(),
                           .y = y.data(),
                           .mean = mean.data(),
                           .var = var.data(),
                           .gamma = gamma.data(),
                           .beta = beta.data(),
                           .eps = eps,
                           .act = act};
  kernel_for<batch_norm_op, P>::run(ctx, desc);
}

/** @brief A convolution's weight and bias with a batch-norm folded in. */
struct folded_conv {
  tensor<float> weight;  ///< the convolution weight's shape
  tensor<float> bias;    ///< [c_out]
};

/**
 * @brief Folds an inference batch-norm into the preceding convolution: per output channel o,
 * w'[o] = w[o] · s_o and b'[o] = (b[o] - mean[o]) · s_o + beta[o], s_o = gamma[o] / sqrt(var[o] + eps)
 * (b = 0 when @p conv_bias is none). Host-side, in double precision, each result rounded once to float.
 *
 * @p conv_weight is [c_out, ...] (rank >= 2: a conv's OIHW weight, or a linear's [out, in]); the other
 * tensors are [c_out]. Throws joule::error on a shape mismatch or when var + eps is not positive.
 */
inline folded_conv fold_batch_norm(tensor_view<const float> conv_weight, tensor_view<const float> conv_bias,
                                   tensor_view<const float> gamma, tensor_view<const float> beta,
                                   tensor_view<const float> mean, tensor_view<const float> var, float eps = 1e-5f) {
  constexpr const char* op = "fold_batch_norm";
  require(conv_weight.rank() >= 2, op, ": conv_weight must have rank >= 2 [c_out, ...], got shape ",
          conv_weight.shape());
  detail::check_view(op, "conv_weight", conv_weight);
  const std::int64_t c_out = conv_weight.dim(0);
  if (!conv_bias.is_none()) detail::check_shape(op, "conv_bias", conv_bias, shape{c_out});
  detail::check_shape(op, "gamma", gamma, shape{c_out});
  detail::check_shape(op, "beta", beta, shape{c_out});
  detail::check_shape(op, "mean", mean, shape{c_out});
  detail::check_shape(op, "var", var, shape{c_out});
  std::vector<double> scale(static_cast<std::size_t>(c_out));
  for (std::int64_t o = 0; o < c_out; ++o) {
    const double denominator = static_cast<double>(var[o]) + static_cast<double>(eps);
    require(denominator > 0, op, ": var[", o, "] + eps = ", denominator, " is not positive (var of shape ", var.shape(),
            ", eps = ", eps, ")");
    scale[o] = static_cast<double>(gamma[o]) / std::sqrt(denominator);
  }
  folded_conv folded{tensor<float>(conv_weight.shape()), tensor<float>(shape{c_out})};
  const std::int64_t per_channel = c_out > 0 ? conv_weight.numel() / c_out : 0;
  for (std::int64_t o = 0; o < c_out; ++o) {
    for (std::int64_t i = 0; i < per_channel; ++i)
      folded.weight[o * per_channel + i] = static_cast<float>(conv_weight[o * per_channel + i] * scale[o]);
    const double bias = conv_bias.is_none() ? 0.0 : static_cast<double>(conv_bias[o]);
    folded.bias[o] = static_cast<float>((bias - mean[o]) * scale[o] + beta[o]);
  }
  return folded;
}

}  // namespace joule::ops
