#pragma once
/** @file gemm.hpp @brief scalar gemm: the textbook triple loop, the readable reference. */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/policy/scalar.hpp>

namespace joule {

template <>
struct kernel<gemm_op, scalar> {
  static void run(cpu_context&, const gemm_op& op) {
    for (std::int64_t i = 0; i < op.m; ++i) {
      float* c_row = op.c + i * op.ldc;
      std::fill(c_row, c_row + op.n, 0.f);
      const float* a_row = op.a + i * op.lda;
      // ops::gemm checks that A, B and C have data whenever they have elements; the analyzer cannot
      // follow that from the shapes to m, n and k and reports a null dereference of a_row and c_row.
      // NOLINTBEGIN(clang-analyzer-core.NullDereference)
      if (op.trans_b) {
        // B is [n, k]: each output is the dot product of two contiguous rows.
        for (std::int64_t j = 0; j < op.n; ++j) {
          const float* b_row = op.b + j * op.ldb;
          float acc = 0.f;
          for (std::int64_t p = 0; p < op.k; ++p) acc += a_row[p] * b_row[p];
          c_row[j] = acc;
        }
      } else {
        // B is [k, n]: accumulate row p of B scaled by A[i, p], so every loop walks memory in order.
        for (std::int64_t p = 0; p < op.k; ++p) {
          const float a_ip = a_row[p];
          const float* b_row = op.b + p * op.ldb;
          for (std::int64_t j = 0; j < op.n; ++j) c_row[j] += a_ip * b_row[j];
        }
      }
      // NOLINTEND(clang-analyzer-core.NullDereference)
      for (std::int64_t j = 0; j < op.n; ++j) c_row[j] = apply_epilogue(op.ep, op.alpha * c_row[j], i, j);
    }
  }
};

}  // namespace joule
