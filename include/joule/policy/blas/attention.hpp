#pragma once
/**
 * @file attention.hpp
 * @brief blas attention: per batch item, cblas_sgemm for every head's scores = scale · Q Kᵀ + mask,
 * the fallback policy's softmax over all of the item's score rows at once, then cblas_sgemm for
 * every head's out = P · V.
 *
 * OpenBLAS threads each product itself (with the context's thread count), so the heads run one
 * after another; the softmax of all heads' rows is one call, so one fork per item instead of one
 * per head. Scratch: heads · seq_q · seq_k floats of scores, taken from the context.
 */
#include <algorithm>
#include <cstdint>

#include <cblas.h>

#include <joule/config.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/attention.hpp>
#include <joule/ops/desc/softmax.hpp>
#include <joule/policy/blas.hpp>
#include <joule/policy/blas/batched_matmul.hpp>
#include <joule/policy/blas/threads.hpp>
#include <joule/policy/scalar/softmax.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/softmax.hpp>
#endif

namespace joule {

template <>
struct kernel<attention_op, blas> {
  static void run(cpu_context& ctx, const attention_op& op) {
    using blas_detail::leading_dim;
    blas_detail::use_threads(ctx.threads());
    const std::int64_t block = op.seq_q * op.seq_k;  // one head's scores
    scratch_frame frame(ctx);
    float* scores = frame.take<float>(op.heads * block);
    for (std::int64_t b = 0; b < op.batch; ++b) {
      const float* mask = op.mask ? op.mask + b * op.seq_k : nullptr;
      for (std::int64_t h = 0; h < op.heads; ++h) {
        float* s = scores + h * block;
        // The mask enters as C with beta = 1 (C = scale · Q Kᵀ + mask); with no mask, beta = 0
        // and OpenBLAS never reads the scratch.
        if (mask)
          for (std::int64_t i = 0; i < op.seq_q; ++i) std::copy(mask, mask + op.seq_k, s + i * op.seq_k);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(op.seq_q),
                    static_cast<blasint>(op.seq_k), static_cast<blasint>(op.head_dim), op.scale,
                    op.q + b * op.seq_q * op.ldq + h * op.head_dim, leading_dim(op.ldq),
                    op.k + b * op.seq_k * op.ldk + h * op.head_dim, leading_dim(op.ldk), mask ? 1.f : 0.f, s,
                    leading_dim(op.seq_k));
      }
      kernel_for<softmax_op, blas::fallback>::run(
          ctx, softmax_op{.rows = op.heads * op.seq_q, .cols = op.seq_k, .x = scores, .y = scores});
      for (std::int64_t h = 0; h < op.heads; ++h)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(op.seq_q),
                    static_cast<blasint>(op.head_dim), static_cast<blasint>(op.seq_k), 1.f, scores + h * block,
                    leading_dim(op.seq_k), op.v + b * op.seq_k * op.ldv + h * op.head_dim, leading_dim(op.ldv), 0.f,
                    op.out + b * op.seq_q * op.ldo + h * op.head_dim, leading_dim(op.ldo));
    }
  }
};

}  // namespace joule
