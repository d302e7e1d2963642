#pragma once
/** @file attention.hpp @brief The multi-head scaled dot-product attention operator's contract. */
#include <cstdint>

namespace joule {

/**
 * @brief out = softmax(scale · Q Kᵀ + mask) V for every batch and head.
 *
 * Q is [batch, seq_q, heads · head_dim] with row stride ldq (so Q, K and V may be slices of one
 * fused [batch, seq, 3 · hidden] projection); K and V are [batch, seq_k, heads · head_dim] with row
 * strides ldk, ldv; head h is columns [h · head_dim, (h + 1) · head_dim). mask is an additive
 * [batch, seq_k] float tensor (0 to attend, a large negative number to mask), broadcast over heads
 * and queries, or null. out is [batch, seq_q, heads · head_dim] with row stride ldo.
 */
struct attention_op {
  std::int64_t batch = 0, seq_q = 0, seq_k = 0, heads = 0, head_dim = 0;
  const float* q = nullptr;
  std::int64_t ldq = 0;
  const float* k = nullptr;
  std::int64_t ldk = 0;
  const float* v = nullptr;
  std::int64_t ldv = 0;
  const float* mask = nullptr;
  float* out = nullptr;
  std::int64_t ldo = 0;
  float scale = 1.f;

  static constexpr const char* name() noexcept { return "attention"; }
};

}  // namespace joule
