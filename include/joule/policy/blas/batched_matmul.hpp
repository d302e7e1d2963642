#pragma once
/** @file batched_matmul.hpp @brief blas batched_matmul: one cblas_sgemm per item. */
#include <algorithm>
#include <cstdint>

#include <cblas.h>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/batched_matmul.hpp>
#include <joule/policy/blas.hpp>
#include <joule/policy/blas/threads.hpp>

namespace joule {

namespace blas_detail {
/** @brief BLAS requires every leading dimension >= 1, even for an empty operand (k = 0). */
inline blasint leading_dim(std::int64_t ld) noexcept { return static_cast<blasint>(std::max<std::int64_t>(ld, 1)); }
}  // namespace blas_detail

template <>
struct kernel<batched_matmul_op, blas> {
  static void run(cpu_context& ctx, const batched_matmul_op& op) {
    blas_detail::use_threads(ctx.threads());
    // OpenBLAS 0.3.21 (Debian 12) has no batched GEMM; each call threads the item itself.
    // beta = 0: OpenBLAS then never reads C, and k = 0 yields C = 0.
    for (std::int64_t i = 0; i < op.batch; ++i)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, op.trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(op.m),
                  static_cast<blasint>(op.n), static_cast<blasint>(op.k), op.alpha, op.a + i * op.stride_a,
                  blas_detail::leading_dim(op.lda), op.b + i * op.stride_b, blas_detail::leading_dim(op.ldb), 0.f,
                  op.c + i * op.stride_c, blas_detail::leading_dim(op.ldc));
  }
};

}  // namespace joule
