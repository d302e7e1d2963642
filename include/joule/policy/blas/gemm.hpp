#pragma once
/** @file gemm.hpp @brief blas gemm: cblas_sgemm on blocks split across joule's threads, then the epilogue as one pass
 * over C. */
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/policy/blas.hpp>
#include <joule/policy/blas/threads.hpp>
#include <joule/policy/detail/epilogue_pass.hpp>

namespace joule {

template <>
struct kernel<gemm_op, blas> {
  static void run(cpu_context& ctx, const gemm_op& op) {
    blas_detail::use_single_threaded_blas();
    // beta = 0: OpenBLAS then never reads C, so uninitialised output memory cannot leak NaN in.
    blas_detail::sgemm(ctx, op.trans_b, op.m, op.n, op.k, op.alpha, op.a, op.lda, op.b, op.ldb, 0.f, op.c, op.ldc);
    detail::epilogue_pass(ctx, op.ep, 1.f, op.c, op.m, op.n, op.ldc);
  }
};

}  // namespace joule
