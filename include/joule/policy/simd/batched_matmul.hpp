#pragma once
/**
 * @file batched_matmul.hpp
 * @brief simd batched_matmul: the simd GEMM per item, parallel over the items when there are enough.
 *
 * With at least as many items as threads (attention's [batch · heads, seq, head_dim] products),
 * each thread runs whole items through a one-thread GEMM (simd_detail::gemm_block) with its own
 * packing buffer: one fork for the whole batch instead of one per item, and no item split into
 * pieces that each repack the same B. The price is at most one item of imbalance, small when
 * items are many. With fewer items than threads, each item goes to the threaded simd GEMM, which
 * splits the item itself.
 */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/batched_matmul.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/gemm.hpp>

namespace joule {

template <>
struct kernel<batched_matmul_op, simd> {
  static void run(cpu_context& ctx, const batched_matmul_op& op) {
    using blk = simd_detail::gemm_blocking;
    const double flops = 2.0 * static_cast<double>(op.batch) * op.m * op.n * op.k;
    // The same threshold as the simd GEMM: below ~200 kflop per thread a fork costs more.
    const bool by_items =
        op.k > 0 && ctx.threads() > 1 && op.batch >= ctx.threads() && flops >= 200000.0 * ctx.threads();
    if (!by_items) {
      for (std::int64_t i = 0; i < op.batch; ++i) kernel<gemm_op, simd>::run(ctx, batch_item(op, i));
      return;
    }
    const int threads = ctx.threads();
    ctx.pool().run([&](int t) {
      scratch_frame own(ctx.thread_scratch());
      float* mine = own.take<float>(blk::kKc * blk::kNc);
      for (std::int64_t i = op.batch * t / threads; i < op.batch * (t + 1) / threads; ++i)
        simd_detail::gemm_block(batch_item(op, i), 0, op.m, 0, op.n, mine);
    });
  }
};

}  // namespace joule
