#pragma once
/** @file batched_matmul.hpp @brief The batched_matmul operator's contract. */
#include <cstdint>

#include <joule/ops/desc/gemm.hpp>

namespace joule {

/**
 * @brief For every i in [0, batch): C_i = alpha · A_i · op(B_i), row-major float32.
 *
 * A_i starts at a + i·stride_a and is [m, k] with row stride lda; B_i at b + i·stride_b is [k, n]
 * (or [n, k] when trans_b) with row stride ldb; C_i at c + i·stride_c is [m, n] with row stride ldc.
 * Row strides let attention address one head inside a [seq, heads·head_dim] activation with no copy.
 */
struct batched_matmul_op {
  std::int64_t batch = 0, m = 0, n = 0, k = 0;
  const float* a = nullptr;
  std::int64_t lda = 0, stride_a = 0;
  const float* b = nullptr;
  std::int64_t ldb = 0, stride_b = 0;
  bool trans_b = false;
  float* c = nullptr;
  std::int64_t ldc = 0, stride_c = 0;
  float alpha = 1.f;

  static constexpr const char* name() noexcept { return "batched_matmul"; }
};

/** @brief Item @p i of a batched product as one GEMM (no epilogue): what every CPU kernel slices. */
inline gemm_op batch_item(const batched_matmul_op& op, std::int64_t i) noexcept {
  return gemm_op{.m = op.m,
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
}

}  // namespace joule
