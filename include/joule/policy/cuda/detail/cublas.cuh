#pragma once
/**
 * @file cublas.cuh
 * @brief Row-major float32 products through column-major cuBLAS, shared by gemm and batched_matmul.
 *
 * cuBLAS is column-major. A row-major [m, n] matrix C with row stride ldc is, read column-major,
 * Cᵀ [n, m] with leading dimension ldc; so C = A · op(B) is computed as Cᵀ = op(B)ᵀ · Aᵀ, which
 * cuBLAS sees as an (n × k) · (k × m) product of the very same memory, with no copy:
 * B [k, n] row-major is Bᵀ column-major (no transpose), B [n, k] (trans_b) needs CUBLAS_OP_T.
 */
#include <climits>
#include <cstdint>

#include <cublas_v2.h>

#include <joule/core/error.hpp>
#include <joule/policy/cuda/context.hpp>

namespace joule::cuda_detail {

/** @brief Exact float32 by default; TF32 tensor cores only when the context allows them. */
inline cublasComputeType_t compute_type(const context<cuda>& ctx) {
  return ctx.allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

/** @brief cuBLAS takes int sizes: larger ones are an error naming the operator, not a wrapped value. */
inline int cublas_int(std::int64_t value, const char* op, const char* what) {
  require(value >= 0 && value <= INT_MAX, op, ": ", what, " = ", value,
          " exceeds cuBLAS's int range on the cuda policy");
  return static_cast<int>(value);
}

}  // namespace joule::cuda_detail
