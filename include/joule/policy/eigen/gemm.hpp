#pragma once
/** @file gemm.hpp @brief eigen gemm: Eigen's matrix product on blocks split across joule's threads. */
#include <algorithm>
#include <cstdint>

#include <Eigen/Core>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/policy/detail/epilogue_pass.hpp>
#include <joule/policy/eigen.hpp>

namespace joule {

namespace eigen_detail {
using row_major = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using const_matrix = Eigen::Map<const row_major, Eigen::Unaligned, Eigen::OuterStride<>>;
using matrix = Eigen::Map<row_major, Eigen::Unaligned, Eigen::OuterStride<>>;

/** @brief C[rows, cols] = alpha · A[rows, :] · op(B)[:, cols] for one block of the output. */
inline void product_block(const gemm_op& op, std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1) {
  const const_matrix a(op.a + i0 * op.lda, i1 - i0, op.k, Eigen::OuterStride<>(op.lda));
  matrix c(op.c + i0 * op.ldc + j0, i1 - i0, j1 - j0, Eigen::OuterStride<>(op.ldc));
  if (op.trans_b) {
    const const_matrix b(op.b + j0 * op.ldb, j1 - j0, op.k, Eigen::OuterStride<>(op.ldb));
    c.noalias() = op.alpha * (a * b.transpose());
  } else {
    const const_matrix b(op.b + j0, op.k, j1 - j0, Eigen::OuterStride<>(op.ldb));
    c.noalias() = op.alpha * (a * b);
  }
}
}  // namespace eigen_detail

template <>
struct kernel<gemm_op, eigen> {
  static void run(cpu_context& ctx, const gemm_op& op) {
    // Eigen parallelises its product only under OpenMP, so joule splits the output instead: by
    // rows when there are enough of them, else by columns (batch-1 linear layers have one row).
    if (op.m >= 4 * ctx.threads() || op.m >= op.n) {
      ctx.parallel_for(op.m, 16,
                       [&](std::int64_t i0, std::int64_t i1) { eigen_detail::product_block(op, i0, i1, 0, op.n); });
    } else {
      ctx.parallel_for(op.n, 64,
                       [&](std::int64_t j0, std::int64_t j1) { eigen_detail::product_block(op, 0, op.m, j0, j1); });
    }
    detail::epilogue_pass(ctx, op.ep, 1.f, op.c, op.m, op.n, op.ldc);
  }
};

}  // namespace joule
