#pragma once
/**
 * @file gemm.hpp
 * @brief ops::gemm and ops::linear: matrix product with a fused bias / residual / activation.
 *
 * The front end holds no arithmetic: it checks shapes, builds a gemm_op and forwards it to the
 * policy's kernel (policy/<backend>/gemm.hpp), found along the policy's fallback chain.
 */
#include <algorithm>
#include <cstdint>

#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/core/precompiled.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/gemm.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/gemm.hpp>
#endif
#if JOULE_HAS_BLAS
#include <joule/policy/blas/gemm.hpp>
#endif
#if JOULE_HAS_EIGEN
#include <joule/policy/eigen/gemm.hpp>
#endif
#if JOULE_CUDA_KERNELS
#include <joule/policy/cuda/gemm.cuh>
#endif

namespace joule::ops {

/**
 * @brief The width of the B panels that policy @p P's gemm reads packed ahead of time
 * (gemm_b_packing<P>, see pack_gemm_b), or 0 when it reads B only as [k, n] or [n, k].
 */
template <backend P>
inline constexpr std::int64_t gemm_b_panel_width = [] {
  if constexpr (requires { gemm_b_packing<P>::width; })
    return std::int64_t{gemm_b_packing<P>::width};
  else
    return std::int64_t{0};
}();

/**
 * @brief The height of the row tiles in which policy @p P's gemm reads a constant A packed ahead of
 * time (gemm_a_packing<P>, gemm_op::a_packed), or 0 when it reads A only as given.
 */
template <backend P>
inline constexpr std::int64_t gemm_a_tile_rows = [] {
  if constexpr (requires { gemm_a_packing<P>::rows; })
    return std::int64_t{gemm_a_packing<P>::rows};
  else
    return std::int64_t{0};
}();

/**
 * @brief B ([k, n], or [n, k] when @p trans_b: a Linear weight) packed once for policy @p P's gemm:
 * a host tensor of shape [ceil(n / w), k, w], w = gemm_b_panel_width<P>, in the policy's own layout.
 * ops::gemm takes it in place of B. For a constant B (a weight), this takes the packing every
 * call would do out of the inference.
 */
template <backend P>
tensor<float> pack_gemm_b(tensor_view<const float> b, bool trans_b = false) {
  constexpr std::int64_t width = gemm_b_panel_width<P>;
  static_assert(width > 0, "this policy's gemm reads B only as given: there is nothing to pack it for");
  detail::check_rank("pack_gemm_b", "B", b, 2);
  require(b.numel() == 0 || b.data() != nullptr, "pack_gemm_b: B ", b.shape(), " has a null data pointer");
  const std::int64_t k = trans_b ? b.dim(1) : b.dim(0), n = trans_b ? b.dim(0) : b.dim(1);
  tensor<float> packed(shape{(n + width - 1) / width, k, width});
  if (b.numel() > 0) gemm_b_packing<P>::pack_columns(b.data(), b.dim(1), trans_b, k, n, 0, n, packed.data());
  return packed;
}

/** @brief Options of ops::gemm. Default-constructed views mean "none". */
struct gemm_options {
  bool trans_b = false;                 ///< B is [n, k] (a Linear weight) instead of [k, n]
  float alpha = 1.f;                    ///< scales A·B
  tensor_view<const float> bias{};      ///< [n], added to every row
  tensor_view<const float> residual{};  ///< [m, n], added before the activation
  activation act = activation::none;
};

/**
 * @brief c = act(alpha · a · op(b) + bias + residual) with a [m, k], b [k, n] (or [n, k] when
 * trans_b) and c [m, n]. b may also be B packed by pack_gemm_b<P> ([ceil(n / w), k, w]). Throws
 * joule::error naming the shapes when they do not fit.
 */
template <backend P>
void gemm(context<P>& ctx, tensor_view<const float> a, tensor_view<const float> b, tensor_view<float> c,
          const gemm_options& options = {}) {
  constexpr const char* op = "gemm";
  detail::check_rank(op, "A", a, 2);
  detail::check_rank(op, "C", c, 2);
  const std::int64_t m = a.dim(0), k = a.dim(1);
  const bool packed = b.rank() == 3;
  std::int64_t n = 0;
  if (packed) {  // pack_gemm_b's panels: n is C's, the panels must be what pack_gemm_b<P> makes for it
    constexpr std::int64_t width = gemm_b_panel_width<P>;
    if constexpr (width == 0) {
      fail(op, ": B ", b.shape(), " is packed in panels, but the ", P::name(),
           " policy's gemm reads B only as [k, n] or [n, k]");
    } else {
      require(!options.trans_b, op, ": B is packed in panels (", b.shape(), "): trans_b does not apply to it");
      n = c.dim(1);
      const shape expected{(n + width - 1) / width, k, width};
      require(b.shape() == expected, op, ": A is ", a.shape(), " and C is ", c.shape(), ", so B packed for the ",
              P::name(), " policy must be ", expected, ", got ", b.shape());
    }
  } else {
    detail::check_rank(op, "B", b, 2);
    const std::int64_t kb = options.trans_b ? b.dim(1) : b.dim(0);
    n = options.trans_b ? b.dim(0) : b.dim(1);
    require(kb == k, op, ": A is ", a.shape(), " but B", options.trans_b ? "^T" : "", " is ", b.shape(),
            ": inner dimensions ", k, " and ", kb, " differ");
  }
  detail::check_shape(op, "C", c, shape{m, n});
  detail::check_no_overlap(op, "C", c, "A", a);
  detail::check_no_overlap(op, "C", c, "B", b);
  // A view may pair a null pointer with a non-empty shape; every kernel would dereference it.
  require((a.numel() == 0 || a.data() != nullptr) && (b.numel() == 0 || b.data() != nullptr) &&
              (c.numel() == 0 || c.data() != nullptr),
          op, ": a tensor with elements has a null data pointer (A ", a.shape(), ", B ", b.shape(), ", C ", c.shape(),
          ")");
  gemm_op desc{.m = m,
               .n = n,
               .k = k,
               .a = a.data(),
               .lda = k,
               .b = b.data(),
               .ldb = packed            ? b.dim(2)
                      : options.trans_b ? k
                                        : n,
               .trans_b = options.trans_b,
               .c = c.data(),
               .ldc = n,
               .alpha = options.alpha,
               .ep = {},
               .b_panel_width = packed ? b.dim(2) : 0};
  desc.ep.act = options.act;
  if (!options.bias.is_none()) {
    detail::check_shape(op, "bias", options.bias, shape{n});
    desc.ep.bias = options.bias.data();
  }
  if (!options.residual.is_none()) {
    detail::check_shape(op, "residual", options.residual, shape{m, n});
    desc.ep.residual = options.residual.data();
    desc.ep.ldr = n;
  }
  if (m == 0 || n == 0) return;
  kernel_for<gemm_op, P>::run(ctx, desc);
}

/**
 * @brief y = act(x · w^T + bias + residual), PyTorch's Linear: x [..., in], w [out, in], bias [out]
 * (or empty), y [..., out]. The leading axes of x are flattened into the rows of one GEMM.
 */
template <backend P>
void linear(context<P>& ctx, tensor_view<const float> x, tensor_view<const float> w, tensor_view<const float> bias,
            tensor_view<float> y, activation act = activation::none, tensor_view<const float> residual = {}) {
  constexpr const char* op = "linear";
  require(x.rank() >= 1, op, ": input must have rank >= 1, got ", x.shape());
  detail::check_rank(op, "weight", w, 2);
  const std::int64_t in = x.dim(-1), out = w.dim(0);
  require(w.dim(1) == in, op, ": input is ", x.shape(), " but weight is ", w.shape(), ": weight must be [out, ", in,
          "]");
  require(y.rank() == x.rank() && y.shape().prefix(y.rank() - 1) == x.shape().prefix(x.rank() - 1) && y.dim(-1) == out,
          op, ": output must have the input's leading axes and ", out, " features: input ", x.shape(), ", weight ",
          w.shape(), ", output ", y.shape());
  const std::int64_t rows = x.shape().prefix(x.rank() - 1);
  gemm_options options{.trans_b = true, .bias = bias, .act = act};
  if (!residual.is_none()) {
    require(residual.shape() == y.shape(), op, ": residual must have the output's shape ", y.shape(), ", got ",
            residual.shape());
    options.residual = residual.reshape(shape{rows, out});
  }
  gemm(ctx, x.reshape(shape{rows, in}), w, y.reshape(shape{rows, out}), options);
}

}  // namespace joule::ops

// With JOULE_PRECOMPILED_MODELS, compiled once in joule/precompiled.cpp.
#define JOULE_DETAIL_GEMM(P)                                                                 \
  void ::joule::ops::gemm<P>(::joule::context<P>&, ::joule::tensor_view<const float>,        \
                             ::joule::tensor_view<const float>, ::joule::tensor_view<float>, \
                             const ::joule::ops::gemm_options&)
#define JOULE_DETAIL_LINEAR(P)                                                                       \
  void ::joule::ops::linear<P>(::joule::context<P>&, ::joule::tensor_view<const float>,              \
                               ::joule::tensor_view<const float>, ::joule::tensor_view<const float>, \
                               ::joule::tensor_view<float>, ::joule::activation, ::joule::tensor_view<const float>)
JOULE_DETAIL_DECLARE_PRECOMPILED_FUNCTION(JOULE_DETAIL_GEMM)
JOULE_DETAIL_DECLARE_PRECOMPILED_FUNCTION(JOULE_DETAIL_LINEAR)
