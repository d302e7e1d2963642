#pragma once
// What the attention conformance tests of every policy share (tests/ops/test_attention.cpp on the
// CPU policies, tests/cuda/test_cuda_ops.cu on cuda): the problem and the random padding mask. The
// mask draws from the rng in a fixed order, so a seed gives the same mask everywhere.
#include <cstdint>
#include <limits>
#include <random>

#include <joule/core/tensor.hpp>

namespace joule_test {

/** One attention to run; fused: Q, K and V packed in one [batch, seq, 3 · hidden] tensor. */
struct attention_problem {
  std::int64_t batch, seq_q, seq_k, heads, head_dim;
  bool with_mask, fused;
};

/** A padding-style mask: mostly 0, some -10000 and some -inf, never a fully masked row. */
inline joule::tensor<float> random_mask(std::mt19937_64& rng, std::int64_t batch, std::int64_t seq_k) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  joule::tensor<float> mask(joule::shape{batch, seq_k});
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t j = 0; j < seq_k; ++j) {
      const auto draw = rng() % 10;
      mask[b * seq_k + j] = j == 0 || draw < 7 ? 0.f : draw < 9 ? -10000.f : -kInf;
    }
  return mask;
}

}  // namespace joule_test
