#pragma once
/**
 * @file batched_matmul.hpp
 * @brief eigen batched_matmul: Eigen's product on maps of each item, parallel over the items when
 * there are at least as many as threads (one fork for the batch, whole items per thread, as the
 * simd kernel), else each item split across threads as the eigen gemm does.
 */
#include <algorithm>
#include <cmath>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/batched_matmul.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/policy/eigen.hpp>
#include <joule/policy/eigen/gemm.hpp>

namespace joule {

template <>
struct kernel<batched_matmul_op, eigen> {
  static void run(cpu_context& ctx, const batched_matmul_op& op) {
    if (op.batch < ctx.threads()) {
      for (std::int64_t i = 0; i < op.batch; ++i) kernel<gemm_op, eigen>::run(ctx, batch_item(op, i));
      return;
    }
    // At least ~200 kflop per thread before forking, the simd GEMM's threshold.
    const double item_flops = std::max(1.0, 2.0 * static_cast<double>(op.m) * op.n * op.k);
    const auto grain = static_cast<std::int64_t>(std::ceil(200000.0 / item_flops));
    ctx.parallel_for(op.batch, grain, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) eigen_detail::product_block(batch_item(op, i), 0, op.m, 0, op.n);
    });
  }
};

}  // namespace joule
