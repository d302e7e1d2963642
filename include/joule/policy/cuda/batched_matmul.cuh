#pragma once
/**
 * @file batched_matmul.cuh
 * @brief cuda batched_matmul: one cublasGemmStridedBatchedEx call for every item (float32 exact
 * unless TF32 is allowed), in the same row-major-as-column-major view as gemm.
 */
#include <cstdint>

#include <cuda_runtime.h>
#include <cublas_v2.h>

#include <joule/core/kernel.hpp>
#include <joule/ops/desc/batched_matmul.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/cublas.cuh>
#include <joule/policy/cuda/epilogue.cuh>

namespace joule {

template <>
struct kernel<batched_matmul_op, cuda> {
  static void run(context<cuda>& ctx, const batched_matmul_op& op) {
    constexpr const char* name = "batched_matmul";
    if (op.batch == 0 || op.m == 0 || op.n == 0) return;
    if (op.k == 0) {
      // Nothing to multiply: every C_i is zero. The epilogue pass with no accumulator writes those
      // zeros over each item's rows (C may have a row stride, so no flat memset).
      for (std::int64_t i = 0; i < op.batch; ++i)
        cuda_detail::run_epilogue(
            ctx, {.rows = op.m, .cols = op.n, .c = op.c + i * op.stride_c, .ldc = op.ldc, .accumulated = false}, name);
      return;
    }
    // Cᵢᵀ = op(Bᵢ)ᵀ · Aᵢᵀ per item, column-major (see detail/cublas.cuh); strides are in elements.
    const float alpha = op.alpha, beta = 0.f;
    JOULE_CUBLAS_CHECK(
        cublasGemmStridedBatchedEx(
            ctx.cublas(), op.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, cuda_detail::cublas_int(op.n, name, "n"),
            cuda_detail::cublas_int(op.m, name, "m"), cuda_detail::cublas_int(op.k, name, "k"), &alpha, op.b,
            CUDA_R_32F, cuda_detail::cublas_int(op.ldb, name, "ldb"), static_cast<long long>(op.stride_b), op.a,
            CUDA_R_32F, cuda_detail::cublas_int(op.lda, name, "lda"), static_cast<long long>(op.stride_a), &beta, op.c,
            CUDA_R_32F, cuda_detail::cublas_int(op.ldc, name, "ldc"), static_cast<long long>(op.stride_c),
            cuda_detail::cublas_int(op.batch, name, "batch"), cuda_detail::compute_type(ctx), CUBLAS_GEMM_DEFAULT),
        "batched_matmul batch=", op.batch, " m=", op.m, " n=", op.n, " k=", op.k, " trans_b=", op.trans_b);
  }
};

}  // namespace joule
