#pragma once
/**
 * @file gemm.cuh
 * @brief cuda gemm: cuBLAS (cublasGemmEx, float32 exact unless TF32 is allowed) for the product,
 * then one fused epilogue pass for bias, residual and activation.
 */
#include <cstdint>

#include <cublas_v2.h>

#include <joule/core/kernel.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/cublas.cuh>
#include <joule/policy/cuda/epilogue.cuh>

namespace joule {

template <>
struct kernel<gemm_op, cuda> {
  static void run(context<cuda>& ctx, const gemm_op& op) {
    constexpr const char* name = "gemm";
    cuda_detail::epilogue_pass ep{.rows = op.m,
                                  .cols = op.n,
                                  .c = op.c,
                                  .ldc = op.ldc,
                                  .bias = op.ep.bias,
                                  .axis = op.ep.axis,
                                  .bias_period = op.m,
                                  .residual = op.ep.residual,
                                  .ldr = op.ep.ldr,
                                  .act = op.ep.act,
                                  .accumulated = op.k > 0};
    if (op.k > 0) {
      // Cᵀ [n, m] = op(B)ᵀ [n, k] · Aᵀ [k, m] in cuBLAS's column-major view (see detail/cublas.cuh).
      const float alpha = op.alpha, beta = 0.f;
      JOULE_CUBLAS_CHECK(
          cublasGemmEx(ctx.cublas(), op.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N,
                       cuda_detail::cublas_int(op.n, name, "n"), cuda_detail::cublas_int(op.m, name, "m"),
                       cuda_detail::cublas_int(op.k, name, "k"), &alpha, op.b, CUDA_R_32F,
                       cuda_detail::cublas_int(op.ldb, name, "ldb"), op.a, CUDA_R_32F,
                       cuda_detail::cublas_int(op.lda, name, "lda"), &beta, op.c, CUDA_R_32F,
                       cuda_detail::cublas_int(op.ldc, name, "ldc"), cuda_detail::compute_type(ctx),
                       CUBLAS_GEMM_DEFAULT),
          "gemm m=", op.m, " n=", op.n, " k=", op.k, " trans_b=", op.trans_b);
    }
    // k = 0: no product to store (cuBLAS would only scale C by beta), so the epilogue starts from 0.
    cuda_detail::run_epilogue(ctx, ep, name);
  }
};

}  // namespace joule
