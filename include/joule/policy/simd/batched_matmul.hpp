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

namespace simd_detail {
/** @brief Item @p i of a batched product as one GEMM. */
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
}  // namespace simd_detail

template <>
struct kernel<batched_matmul_op, simd> {
  static void run(cpu_context& ctx, const batched_matmul_op& op) {
    using blk = simd_detail::gemm_blocking;
    const double flops = 2.0 * static_cast<double>(op.batch) * op.m * op.n * op.k;
    // The same threshold as the simd GEMM: below ~200 kflop per thread a fork costs more.
    const bool by_items =
        op.k > 0 && ctx.threads() > 1 && op.batch >= ctx.threads() && flops >= 200000.0 * ctx.threads();
    if (!by_items) {
      for (std::int64_t i = 0; i < op.batch; ++i) kernel<gemm_op, simd>::run(ctx, simd_detail::batch_item(op, i));
      return;
    }
    const int threads = ctx.threads();
    scratch_frame frame(ctx);
    float* packed = frame.take<float>(threads * blk::kKc * blk::kNc);
    ctx.pool().run([&](int t) {
      float* mine = packed + t * blk::kKc * blk::kNc;
      for (std::int64_t i = op.batch * t / threads; i < op.batch * (t + 1) / threads; ++i)
        simd_detail::gemm_block(simd_detail::batch_item(op, i), 0, op.m, 0, op.n, mine);
    });
  }
};

}  // namespace joule
