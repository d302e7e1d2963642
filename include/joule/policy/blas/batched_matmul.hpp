#pragma once
/** @file batched_matmul.hpp @brief blas batched_matmul: one cblas_sgemm per item, items or products split across
 * joule's threads. */
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/batched_matmul.hpp>
#include <joule/policy/blas.hpp>
#include <joule/policy/blas/threads.hpp>

namespace joule {

template <>
struct kernel<batched_matmul_op, blas> {
  static void run(cpu_context& ctx, const batched_matmul_op& op) {
    blas_detail::use_single_threaded_blas();
    // OpenBLAS 0.3.21 (Debian 12) has no batched GEMM. With an item for every thread, whole items go
    // to the threads; otherwise each item's product is split across them.
    // beta = 0: OpenBLAS then never reads C, and k = 0 yields C = 0.
    const auto item = [&](std::int64_t i, auto&& gemm) {
      gemm(op.trans_b, op.m, op.n, op.k, op.alpha, op.a + i * op.stride_a, op.lda, op.b + i * op.stride_b, op.ldb, 0.f,
           op.c + i * op.stride_c, op.ldc);
    };
    if (op.batch >= ctx.threads()) {
      ctx.parallel_for(op.batch, 1, [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i) item(i, [](auto... args) { blas_detail::sgemm_serial(args...); });
      });
    } else {
      for (std::int64_t i = 0; i < op.batch; ++i) item(i, [&](auto... args) { blas_detail::sgemm(ctx, args...); });
    }
  }
};

}  // namespace joule
