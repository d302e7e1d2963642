#pragma once
/**
 * @file attention.hpp
 * @brief blas attention: per batch item, cblas_sgemm for every head's scores = scale · Q Kᵀ + mask,
 * the fallback policy's softmax over all of the item's score rows at once, then cblas_sgemm for
 * every head's out = P · V.
 *
 * Every product is one single-threaded OpenBLAS call (threads.hpp says why) and the heads are
 * split across joule's threads; the softmax of all heads' rows is one call, so three forks per
 * item instead of one per head. Scratch: heads · seq_q · seq_k floats of scores, taken from the
 * context.
 */
#include <algorithm>
#include <cstdint>

#include <joule/config.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/attention.hpp>
#include <joule/ops/desc/softmax.hpp>
#include <joule/policy/blas.hpp>
#include <joule/policy/blas/threads.hpp>
#include <joule/policy/scalar/softmax.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/softmax.hpp>
#endif

namespace joule {

template <>
struct kernel<attention_op, blas> {
  static void run(cpu_context& ctx, const attention_op& op) {
    using blas_detail::sgemm_serial;
    blas_detail::use_single_threaded_blas();
    const std::int64_t block = op.seq_q * op.seq_k;  // one head's scores
    scratch_frame frame(ctx);
    float* scores = frame.take<float>(op.heads * block);
    for (std::int64_t b = 0; b < op.batch; ++b) {
      const float* mask = op.mask ? op.mask + b * op.seq_k : nullptr;
      ctx.parallel_for(op.heads, 1, [&](std::int64_t h0, std::int64_t h1) {
        for (std::int64_t h = h0; h < h1; ++h) {
          float* s = scores + h * block;
          // The mask enters as C with beta = 1 (C = scale · Q Kᵀ + mask); with no mask, beta = 0
          // and OpenBLAS never reads the scratch.
          if (mask)
            for (std::int64_t i = 0; i < op.seq_q; ++i) std::copy(mask, mask + op.seq_k, s + i * op.seq_k);
          sgemm_serial(true, op.seq_q, op.seq_k, op.head_dim, op.scale, op.q + b * op.seq_q * op.ldq + h * op.head_dim,
                       op.ldq, op.k + b * op.seq_k * op.ldk + h * op.head_dim, op.ldk, mask ? 1.f : 0.f, s, op.seq_k);
        }
      });
      kernel_for<softmax_op, blas::fallback>::run(
          ctx, softmax_op{.rows = op.heads * op.seq_q, .cols = op.seq_k, .x = scores, .y = scores});
      ctx.parallel_for(op.heads, 1, [&](std::int64_t h0, std::int64_t h1) {
        for (std::int64_t h = h0; h < h1; ++h)
          sgemm_serial(false, op.seq_q, op.head_dim, op.seq_k, 1.f, scores + h * block, op.seq_k,
                       op.v + b * op.seq_k * op.ldv + h * op.head_dim, op.ldv, 0.f,
                       op.out + b * op.seq_q * op.ldo + h * op.head_dim, op.ldo);
      });
    }
  }
};

}  // namespace joule
