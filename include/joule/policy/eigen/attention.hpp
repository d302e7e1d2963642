#pragma once
/**
 * @file attention.hpp
 * @brief eigen attention: per (batch, head) and block of queries, Eigen's products on maps for
 * scores = scale · Q Kᵀ and out = P · V, the mask and softmax as Eigen array expressions on each
 * score row; the blocks split across joule's threads (Eigen threads only under OpenMP).
 *
 * Each thread owns one score block of the scratch taken before the fork. Eigen's products keep
 * their packing buffers on the stack at these sizes (below EIGEN_STACK_ALLOCATION_LIMIT).
 */
#include <algorithm>
#include <cstdint>

#include <Eigen/Core>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/attention.hpp>
#include <joule/policy/eigen.hpp>
#include <joule/policy/eigen/gemm.hpp>

namespace joule {

namespace eigen_detail {

/** @brief Queries [i0, i1) of head h of item b, with @p scores for (i1 - i0) · seq_k floats. */
inline void attention_block(const attention_op& op, std::int64_t b, std::int64_t h, std::int64_t i0, std::int64_t i1,
                            float* scores) {
  using Eigen::OuterStride;
  const std::int64_t rows = i1 - i0;
  const std::int64_t col = h * op.head_dim;
  const const_matrix q(op.q + (b * op.seq_q + i0) * op.ldq + col, rows, op.head_dim, OuterStride<>(op.ldq));
  const const_matrix k(op.k + b * op.seq_k * op.ldk + col, op.seq_k, op.head_dim, OuterStride<>(op.ldk));
  const const_matrix v(op.v + b * op.seq_k * op.ldv + col, op.seq_k, op.head_dim, OuterStride<>(op.ldv));
  matrix s(scores, rows, op.seq_k, OuterStride<>(op.seq_k));
  matrix out(op.out + (b * op.seq_q + i0) * op.ldo + col, rows, op.head_dim, OuterStride<>(op.ldo));

  s.noalias() = op.scale * (q * k.transpose());
  using row_array = Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>>;
  for (std::int64_t r = 0; r < rows; ++r) {
    auto row = s.row(r).array();
    if (op.mask) row += row_array(op.mask + b * op.seq_k, op.seq_k);
    // Subtracting the row maximum keeps every exp() in (0, 1]; a NaN score still makes its own
    // exp, the sum, and so the row NaN, even where maxCoeff() skips it.
    const float max = row.maxCoeff();
    row = (row - max).exp();
    row *= 1.f / row.sum();
  }
  out.noalias() = s * v;
}

}  // namespace eigen_detail

template <>
struct kernel<attention_op, eigen> {
  static void run(cpu_context& ctx, const attention_op& op) {
    // Tasks are (batch, head, block of queries); the queries are split only when there are fewer
    // (batch, head) pairs than threads, so that every thread gets work.
    const std::int64_t pairs = op.batch * op.heads;
    const std::int64_t blocks = pairs < ctx.threads() ? std::min(op.seq_q, (ctx.threads() + pairs - 1) / pairs) : 1;
    const std::int64_t block_rows = (op.seq_q + blocks - 1) / blocks;
    const std::int64_t tasks = pairs * blocks;
    const double flops = 4.0 * static_cast<double>(pairs) * op.seq_q * op.seq_k * op.head_dim;
    const int threads =
        flops < 200000.0 * ctx.threads() ? 1 : static_cast<int>(std::min<std::int64_t>(ctx.threads(), tasks));
    scratch_frame frame(ctx);
    float* scores = frame.take<float>(threads * block_rows * op.seq_k);
    auto body = [&](int t) {
      for (std::int64_t task = tasks * t / threads; task < tasks * (t + 1) / threads; ++task) {
        const std::int64_t pair = task / blocks, block = task % blocks;
        const std::int64_t i0 = op.seq_q * block / blocks, i1 = op.seq_q * (block + 1) / blocks;
        if (i0 < i1)
          eigen_detail::attention_block(op, pair / op.heads, pair % op.heads, i0, i1,
                                        scores + t * block_rows * op.seq_k);
      }
    };
    if (threads == 1)
      body(0);
    else
      ctx.pool().run([&](int t) {
        if (t < threads) body(t);
      });
  }
};

}  // namespace joule
