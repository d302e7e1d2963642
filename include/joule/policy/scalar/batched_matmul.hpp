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
      kernel<gemm_op, scalar>::run(ctx, batch_item(op, i));
    }
  }
};

}  // namespace joule
