#pragma once
/** @file batched_matmul.hpp @brief scalar batched_matmul: the scalar gemm kernel once per item. */
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/batched_matmul.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/policy/scalar.hpp>
#include <joule/policy/scalar/gemm.hpp>

namespace joule {

template <>
struct kernel<batched_matmul_op, scalar> {
  static void run(cpu_context& ctx, const batched_matmul_op& op) {
    for (std::int64_t i = 0; i < op.batch; ++i) {
      const gemm_op item{.m = op.m,
                         .n = op.n,
                         .k = op.k,
                         .a = op.a + i * op.stride_a,
                         .lda = op.lda,
                         .b = op.b + i * op.stride_b,
                         .ldb = op.ldb,
                         .trans_b = op.trans_b,
                         .c = op.c + i * op.stride_c,
                         .ldc = op.ldc,
                         .alpha = op.alpha,
                         .ep = {}};
      kernel<gemm_op, scalar>::run(ctx, item);
    }
  }
};

}  // namespace joule
