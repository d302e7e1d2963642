#pragma once
/**
 * @file attention.hpp
 * @brief ops::attention and ops::attention_fused_qkv: multi-head scaled dot-product attention.
 *
 * The front ends hold no arithmetic: they check shapes, build an attention_op (with row strides,
 * so the fused form reads Q, K and V in place inside one projection) and forward it to the
 * policy's kernel (policy/<backend>/attention.hpp), found along the policy's fallback chain.
 */
#include <cmath>
#include <cstdint>

#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/core/precompiled.hpp>
#include <joule/ops/desc/attention.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/attention.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/attention.hpp>
#endif
#if JOULE_HAS_BLAS
#include <joule/policy/blas/attention.hpp>
#endif
#if JOULE_HAS_EIGEN
#include <joule/policy/eigen/attention.hpp>
#endif
#if JOULE_CUDA_KERNELS
#include <joule/policy/cuda/attention.cuh>
#endif

namespace joule::detail {

/** @brief The checks both attention front ends share: heads, mask and output; then the kernel. */
template <backend P>
void run_attention(const char* op, context<P>& ctx, attention_op desc, std::int64_t hidden,
                   tensor_view<const float> mask, tensor_view<float> out) {
  require(desc.heads > 0, op, ": heads must be > 0, got ", desc.heads);
  require(hidden % desc.heads == 0, op, ": hidden size ", hidden, " is not divisible by ", desc.heads, " heads");
  detail::check_shape(op, "out", out, shape{desc.batch, desc.seq_q, hidden});
  if (!mask.is_none()) {
    detail::check_shape(op, "mask", mask, shape{desc.batch, desc.seq_k});
    detail::check_no_overlap(op, "out", out, "mask", mask);
    desc.mask = mask.data();
  }
  if (out.numel() == 0) return;
  require(desc.seq_k > 0, op, ": k and v have no positions (seq_k = 0) for ", desc.seq_q, " queries to attend to");
  desc.head_dim = hidden / desc.heads;
  desc.scale = 1.f / std::sqrt(static_cast<float>(desc.head_dim));
  desc.out = out.data();
  desc.ldo = hidden;
  kernel_for<attention_op, P>::run(ctx, desc);
}

}  // namespace joule::detail

namespace joule::ops {

/**
 * @brief out = softmax(Q Kᵀ / sqrt(head_dim) + mask) V for every batch item and head.
 *
 * q is [batch, seq_q, heads · head_dim]; k and v are [batch, seq_k, heads · head_dim] (seq_k may
 * differ from seq_q, and must be > 0 when there are queries); head h is columns
 * [h · head_dim, (h + 1) · head_dim). mask is not given or an additive [batch, seq_k] tensor (0 to
 * attend, a large negative number or -inf to mask), shared by all heads and queries. out is
 * [batch, seq_q, heads · head_dim] and must not overlap any input.
 */
template <backend P>
void attention(context<P>& ctx, tensor_view<const float> q, tensor_view<const float> k, tensor_view<const float> v,
               tensor_view<const float> mask, tensor_view<float> out, std::int64_t heads) {
  constexpr const char* op = "attention";
  detail::check_rank(op, "q", q, 3);
  detail::check_rank(op, "k", k, 3);
  detail::check_rank(op, "v", v, 3);
  const std::int64_t batch = q.dim(0), seq_q = q.dim(1), hidden = q.dim(2), seq_k = k.dim(1);
  require(k.dim(0) == batch && k.dim(2) == hidden, op, ": k must be [", batch, ", seq_k, ", hidden, "] to match q ",
          q.shape(), ", got ", k.shape());
  require(v.shape() == k.shape(), op, ": v must have k's shape ", k.shape(), " (the same seq_k), got ", v.shape());
  detail::check_no_overlap(op, "out", out, "q", q);
  detail::check_no_overlap(op, "out", out, "k", k);
  detail::check_no_overlap(op, "out", out, "v", v);
  const attention_op desc{.batch = batch,
                          .seq_q = seq_q,
                          .seq_k = seq_k,
                          .heads = heads,
                          .q = q.data(),
                          .ldq = hidden,
                          .k = k.data(),
                          .ldk = hidden,
                          .v = v.data(),
                          .ldv = hidden};
  detail::run_attention(op, ctx, desc, hidden, mask, out);
}

/**
 * @brief ops::attention on one fused projection qkv [batch, seq, 3 · heads · head_dim], laid out
 * [Q | K | V] along the last axis (a BERT layer's three projections as one GEMM). Q, K and V are
 * read in place through row strides, with no copy. out is [batch, seq, heads · head_dim].
 */
template <backend P>
void attention_fused_qkv(context<P>& ctx, tensor_view<const float> qkv, tensor_view<const float> mask,
                         tensor_view<float> out, std::int64_t heads) {
  constexpr const char* op = "attention_fused_qkv";
  detail::check_rank(op, "qkv", qkv, 3);
  require(heads > 0, op, ": heads must be > 0, got ", heads);
  const std::int64_t batch = qkv.dim(0), seq = qkv.dim(1), width = qkv.dim(2);
  require(width % (3 * heads) == 0, op, ": qkv's last axis ", width, " (of ", qkv.shape(), ") is not divisible by 3 · ",
          heads, " heads");
  detail::check_no_overlap(op, "out", out, "qkv", qkv);
  const std::int64_t hidden = width / 3;
  const float* base = qkv.data();
  const attention_op desc{.batch = batch,
                          .seq_q = seq,
                          .seq_k = seq,
                          .heads = heads,
                          .q = base,
                          .ldq = width,
                          .k = base ? base + hidden : nullptr,
                          .ldk = width,
                          .v = base ? base + 2 * hidden : nullptr,
                          .ldv = width};
  detail::run_attention(op, ctx, desc, hidden, mask, out);
}

}  // namespace joule::ops

// With JOULE_PRECOMPILED_MODELS, compiled once in joule/precompiled.cpp.
#define JOULE_DETAIL_ATTENTION(P)                                                                       \
  void ::joule::ops::attention<P>(::joule::context<P>&, ::joule::tensor_view<const float>,              \
                                  ::joule::tensor_view<const float>, ::joule::tensor_view<const float>, \
                                  ::joule::tensor_view<const float>, ::joule::tensor_view<float>, std::int64_t)
#define JOULE_DETAIL_ATTENTION_FUSED_QKV(P)                                                                 \
  void ::joule::ops::attention_fused_qkv<P>(::joule::context<P>&, ::joule::tensor_view<const float>,        \
                                            ::joule::tensor_view<const float>, ::joule::tensor_view<float>, \
                                            std::int64_t)
JOULE_DETAIL_DECLARE_PRECOMPILED_FUNCTION(JOULE_DETAIL_ATTENTION)
JOULE_DETAIL_DECLARE_PRECOMPILED_FUNCTION(JOULE_DETAIL_ATTENTION_FUSED_QKV)
