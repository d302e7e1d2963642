#pragma once
/**
 * @file attention.hpp
 * @brief simd attention: per (batch, head) and block of queries, scores = scale · Q Kᵀ + mask by
 * the simd GEMM (the mask is its fused column bias), a vector softmax per row, then out = P · V by
 * the simd GEMM; the blocks are split across threads.
 *
 * Every thread runs one-thread GEMMs (simd_detail::gemm_block) on its own slice of scratch memory
 * (a score block and a packing buffer), all taken from the context before the fork, so the
 * kernel allocates nothing and threads share nothing they write.
 */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/attention.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/gemm.hpp>
#include <joule/policy/simd/softmax.hpp>

namespace joule {

namespace simd_detail {

/** @brief How attention's work is cut: (batch, head, query block) tasks, one score block each. */
struct attention_plan {
  std::int64_t query_blocks = 1;  // blocks of queries per (batch, head)
  std::int64_t block_rows = 0;    // the most queries in one block
  std::int64_t tasks = 0;
  int threads = 1;

  attention_plan(const attention_op& op, int available_threads) {
    const std::int64_t pairs = op.batch * op.heads;
    // BERT has 12 heads per item, more than enough tasks; with fewer (batch, head) pairs than
    // threads the queries are split too, so every thread gets work.
    if (pairs < available_threads) query_blocks = std::min(op.seq_q, (available_threads + pairs - 1) / pairs);
    block_rows = (op.seq_q + query_blocks - 1) / query_blocks;
    tasks = pairs * query_blocks;
    const double flops = 4.0 * static_cast<double>(pairs) * op.seq_q * op.seq_k * op.head_dim;
    // The simd GEMM's threshold: below ~200 kflop per thread a fork costs more than it saves.
    if (flops >= 200000.0 * available_threads)
      threads = static_cast<int>(std::min<std::int64_t>(available_threads, tasks));
  }
};

/** @brief One task: queries [i0, i1) of head h of item b, using @p scores and @p packed. */
inline void attention_block(const attention_op& op, std::int64_t b, std::int64_t h, std::int64_t i0, std::int64_t i1,
                            float* scores, float* packed) {
  const std::int64_t rows = i1 - i0;
  const std::int64_t col = h * op.head_dim;
  gemm_op qk{.m = rows,
             .n = op.seq_k,
             .k = op.head_dim,
             .a = op.q + (b * op.seq_q + i0) * op.ldq + col,
             .lda = op.ldq,
             .b = op.k + b * op.seq_k * op.ldk + col,
             .ldb = op.ldk,
             .trans_b = true,
             .c = scores,
             .ldc = op.seq_k,
             .alpha = op.scale,
             .ep = {}};
  // The mask is one value per key, i.e. a column bias of the score block: the GEMM adds it while
  // the tile is still in registers.
  if (op.mask) qk.ep.bias = op.mask + b * op.seq_k;
  gemm_block(qk, 0, rows, 0, op.seq_k, packed);
  for (std::int64_t r = 0; r < rows; ++r) softmax_row(scores + r * op.seq_k, scores + r * op.seq_k, op.seq_k);
  const gemm_op pv{.m = rows,
                   .n = op.head_dim,
                   .k = op.seq_k,
                   .a = scores,
                   .lda = op.seq_k,
                   .b = op.v + b * op.seq_k * op.ldv + col,
                   .ldb = op.ldv,
                   .trans_b = false,
                   .c = op.out + (b * op.seq_q + i0) * op.ldo + col,
                   .ldc = op.ldo,
                   .alpha = 1.f,
                   .ep = {}};
  gemm_block(pv, 0, rows, 0, op.head_dim, packed);
}

}  // namespace simd_detail

template <>
struct kernel<attention_op, simd> {
  static void run(cpu_context& ctx, const attention_op& op) {
    using blk = simd_detail::gemm_blocking;
    const simd_detail::attention_plan plan(op, ctx.threads());
    const std::int64_t score_floats = plan.block_rows * op.seq_k;
    auto body = [&](int t) {
      scratch_frame own(ctx.thread_scratch());
      float* scores = own.take<float>(score_floats);
      float* packed = own.take<float>(blk::kKc * blk::kNc);
      for (std::int64_t task = plan.tasks * t / plan.threads; task < plan.tasks * (t + 1) / plan.threads; ++task) {
        const std::int64_t pair = task / plan.query_blocks, block = task % plan.query_blocks;
        const std::int64_t i0 = op.seq_q * block / plan.query_blocks, i1 = op.seq_q * (block + 1) / plan.query_blocks;
        if (i0 < i1) simd_detail::attention_block(op, pair / op.heads, pair % op.heads, i0, i1, scores, packed);
      }
    };
    if (plan.threads == 1)
      body(0);
    else
      ctx.pool().run([&](int t) {
        if (t < plan.threads) body(t);
      });
  }
};

}  // namespace joule
