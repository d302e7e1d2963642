#pragma once
/**
 * @file attention.hpp
 * @brief scalar attention: for each query of each head, one row of scores, its softmax, and the
 * weighted sum of V's rows. Plain loops, the readable reference of the operator.
 */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/attention.hpp>
#include <joule/policy/scalar.hpp>
#include <joule/policy/scalar/softmax.hpp>

namespace joule {

template <>
struct kernel<attention_op, scalar> {
  static void run(cpu_context& ctx, const attention_op& op) {
    scratch_frame frame(ctx);
    float* scores = frame.take<float>(op.seq_k);
    for (std::int64_t b = 0; b < op.batch; ++b) {
      const float* mask = op.mask ? op.mask + b * op.seq_k : nullptr;
      for (std::int64_t h = 0; h < op.heads; ++h) {
        // Head h of item b: rows of Q, K, V and out starting at column h * head_dim.
        const float* q = op.q + b * op.seq_q * op.ldq + h * op.head_dim;
        const float* k = op.k + b * op.seq_k * op.ldk + h * op.head_dim;
        const float* v = op.v + b * op.seq_k * op.ldv + h * op.head_dim;
        float* out = op.out + b * op.seq_q * op.ldo + h * op.head_dim;
        for (std::int64_t i = 0; i < op.seq_q; ++i) {
          const float* q_row = q + i * op.ldq;
          for (std::int64_t j = 0; j < op.seq_k; ++j) {
            float dot = 0.f;
            for (std::int64_t d = 0; d < op.head_dim; ++d) dot += q_row[d] * k[j * op.ldk + d];
            scores[j] = op.scale * dot + (mask ? mask[j] : 0.f);
          }
          scalar_detail::softmax_row(scores, scores, op.seq_k);
          float* out_row = out + i * op.ldo;
          std::fill(out_row, out_row + op.head_dim, 0.f);
          for (std::int64_t j = 0; j < op.seq_k; ++j)
            for (std::int64_t d = 0; d < op.head_dim; ++d) out_row[d] += scores[j] * v[j * op.ldv + d];
        }
      }
    }
  }
};

}  // namespace joule
