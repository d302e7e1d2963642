#pragma once
/**
 * @file batched_matmul.hpp
 * @brief ops::batched_matmul: one matrix product per item of the leading (batch) axes.
 *
 * The front end holds no arithmetic: it checks shapes, builds a batched_matmul_op and forwards it
 * to the policy's kernel (policy/<backend>/batched_matmul.hpp), found along the fallback chain.
 */
#include <array>
#include <cstdint>
#include <span>

#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/core/precompiled.hpp>
#include <joule/ops/desc/batched_matmul.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/batched_matmul.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/batched_matmul.hpp>
#endif
#if JOULE_HAS_BLAS
#include <joule/policy/blas/batched_matmul.hpp>
#endif
#if JOULE_HAS_EIGEN
#include <joule/policy/eigen/batched_matmul.hpp>
#endif
#if JOULE_CUDA_KERNELS
#include <joule/policy/cuda/batched_matmul.cuh>
#endif

namespace joule::ops {

/**
 * @brief c[i] = alpha · a[i] · op(b[i]) for every index i of the leading axes: a [..., m, k],
 * b [..., k, n] (or [..., n, k] when trans_b, as K in attention's Q·Kᵀ), c [..., m, n]. The three
 * have the same rank (3 to 5) and the same leading axes. c must not overlap a or b.
 */
template <backend P>
void batched_matmul(context<P>& ctx, tensor_view<const float> a, tensor_view<const float> b, tensor_view<float> c,
                    bool trans_b = false, float alpha = 1.f) {
  constexpr const char* op = "batched_matmul";
  require(a.rank() >= 3 && a.rank() <= 5, op, ": A must have rank 3 to 5, got shape ", a.shape());
  require(b.rank() == a.rank(), op, ": B must have A's rank ", a.rank(), ", got shapes A ", a.shape(), " and B ",
          b.shape());
  detail::check_view(op, "A", a);
  detail::check_view(op, "B", b);
  const int r = a.rank();
  const std::int64_t batch = a.shape().prefix(r - 2);
  const std::int64_t m = a.dim(-2), k = a.dim(-1);
  const std::int64_t kb = trans_b ? b.dim(-1) : b.dim(-2);
  const std::int64_t n = trans_b ? b.dim(-2) : b.dim(-1);
  for (int axis = 0; axis < r - 2; ++axis)
    require(a.dim(axis) == b.dim(axis), op, ": the leading (batch) axes of A ", a.shape(), " and B ", b.shape(),
            " differ");
  require(kb == k, op, ": A is ", a.shape(), " but B", trans_b ? "^T" : "", " is ", b.shape(), ": inner dimensions ", k,
          " and ", kb, " differ");
  std::array<std::int64_t, kMaxRank> c_dims{};
  for (int axis = 0; axis < r - 2; ++axis) c_dims[static_cast<std::size_t>(axis)] = a.dim(axis);
  c_dims[static_cast<std::size_t>(r - 2)] = m;
  c_dims[static_cast<std::size_t>(r - 1)] = n;
  detail::check_shape(op, "C", c, shape{std::span<const std::int64_t>(c_dims.data(), static_cast<std::size_t>(r))});
  detail::check_no_overlap(op, "C", c, "A", a);
  detail::check_no_overlap(op, "C", c, "B", b);
  if (c.numel() == 0) return;
  kernel_for<batched_matmul_op, P>::run(ctx, batched_matmul_op{.batch = batch,
                                                               .m = m,
                                                               .n = n,
                                                               .k = k,
                                                               .a = a.data(),
                                                               .lda = k,
                                                               .stride_a = m * k,
                                                               .b = b.data(),
                                                               .ldb = trans_b ? k : n,
                                                               .stride_b = k * n,
                                                               .trans_b = trans_b,
                                                               .c = c.data(),
                                                               .ldc = n,
                                                               .stride_c = m * n,
                                                               .alpha = alpha});
}

}  // namespace joule::ops

// With JOULE_PRECOMPILED_MODELS, compiled once in joule/precompiled.cpp.
#define JOULE_DETAIL_BATCHED_MATMUL(P)                                                          \
  void ::joule::ops::batched_matmul<P>(::joule::context<P>&, ::joule::tensor_view<const float>, \
                                       ::joule::tensor_view<const float>, ::joule::tensor_view<float>, bool, float)
JOULE_DETAIL_DECLARE_PRECOMPILED_FUNCTION(JOULE_DETAIL_BATCHED_MATMUL)
