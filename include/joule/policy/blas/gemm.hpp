#pragma once
/** @file gemm.hpp @brief blas gemm: cblas_sgemm, then the epilogue as one pass over C. */
#include <cblas.h>

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
    blas_detail::use_threads(ctx.threads());
    // beta = 0: OpenBLAS then never reads C, so uninitialised output memory cannot leak NaN in.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, op.trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(op.m),
                static_cast<blasint>(op.n), static_cast<blasint>(op.k), op.alpha, op.a, static_cast<blasint>(op.lda),
                op.b, static_cast<blasint>(op.ldb), 0.f, op.c, static_cast<blasint>(op.ldc));
    detail::epilogue_pass(ctx, op.ep, 1.f, op.c, op.m, op.n, op.ldc);
  }
};

}  // namespace joule
