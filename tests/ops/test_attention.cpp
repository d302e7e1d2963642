// Conformance of ops::attention and ops::attention_fused_qkv on every CPU policy against the
// double-precision reference in tests/reference/attention.hpp.
//
// Error bound: the composition of the bounds of the three stages, per output element (u = 2^-24,
// hd = head_dim, sk = seq_k; s_j the exact score of key j, p_j its exact probability):
//  1. Scores s_j = scale · q·k_j + mask_j, by a GEMM: the dot product's gamma(hd), the scaling and
//     the mask add (one rounding each), and the float scale 1/sqrt(hd) itself (two roundings):
//       |ŝ_j - s_j| <= sigma_j = gamma(hd + 4) · (scale · sum_d |q_d k_jd| + |mask_j|).
//  2. Softmax of the perturbed scores: p(ŝ)_j / p_j = exp(Δ_j) / sum_k p_k exp(Δ_k) with
//     |Δ_k| <= sigma_k, so by Jensen (not just to first order) its relative error is at most
//       max(exp(sigma_j + sum_k p_k sigma_k) - 1, 1 - exp(-sigma_j) / sum_k p_k exp(sigma_k));
//     the softmax's own rounding adds the bound of test_softmax.cpp,
//       gamma(sk) + (2E + 2 + |d_j| + sum_k p_k |d_k|) u, E = 6, d_j = s_j - max_k s_k.
//     rho_j is the sum of the two: a relative bound on each computed probability.
//  3. out_c = sum_j p̂_j v_jc, by a GEMM over sk terms: the probabilities' errors plus the sum's
//       |out_c - ref_c| <= sum_j p_j |v_jc| (rho_j + gamma(sk) (1 + rho_j)) + sk · 2^-125 · max_j |v_jc|,
//     the last term for probabilities below float's normal range (a masked key's exp may flush to
//     0 or keep a subnormal).
// The bound scales with sum_j p_j |v_jc|, the magnitude of the weighted sum, as a GEMM's does.
//
// Bad input tested (message fragment): a hidden size not divisible by heads ("hidden size 10 is not
// divisible by 3 heads"), heads <= 0 ("heads must be > 0"), a mask of the wrong shape ("mask must
// have shape"), k and v with different seq lengths ("v must have k's shape"), k with another batch
// or hidden size ("k must be"), q of rank 2 or 4 ("q must have rank 3"), out of the wrong shape
// ("out must have shape"), the fused qkv's last axis not divisible by 3 · heads ("is not divisible
// by 3 · 4 heads"), no keys for existing queries ("seq_k = 0"), out overlapping q ("out overlaps
// q"), a null data pointer ("null data pointer"), a misaligned float pointer ("not aligned").
// Edge cases: random batch, seq_q != seq_k, heads and head_dim not multiples of the vector width,
// masks with 0, -10000 (BERT's value) and -inf, seq 1, head_dim 1, fewer (batch, head) pairs than
// threads (queries split), no batch items and no queries, BERT-base (12 heads, head_dim 64,
// seq 128, with a padding mask) in both forms, several thread counts, a second run that takes no
// new scratch memory, and a NaN in K row j of one head, which must poison that head's outputs in
// that batch item and nothing else.
#include <limits>

#include <joule/ops/attention.hpp>

#include "../common/testing.hpp"
#include "../reference/attention.hpp"
#include "attention_cases.hpp"

namespace {

using joule_test::expect_error;

using joule::shape;
using joule::tensor;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using problem = joule_test::attention_problem;
using joule_test::random_mask;

template <class P>
class attention_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

  /** Runs one problem with random data; @p poison_k puts a NaN in K (batch 0, key 0, head 0). */
  void check(joule::context<P>& ctx, const problem& pr, std::mt19937_64& rng, bool poison_k = false) {
    const std::int64_t hidden = pr.heads * pr.head_dim;
    tensor<float> q, k, v, qkv;
    std::int64_t ld = hidden;
    const float *q_data, *k_data, *v_data;
    if (pr.fused) {
      ASSERT_EQ(pr.seq_q, pr.seq_k);
      qkv = joule_test::random_tensor(rng, shape{pr.batch, pr.seq_q, 3 * hidden});
      ld = 3 * hidden;
      q_data = qkv.data();
      k_data = qkv.data() + hidden;
      v_data = qkv.data() + 2 * hidden;
      if (poison_k) qkv[hidden + 0] = kNaN;
    } else {
      q = joule_test::random_tensor(rng, shape{pr.batch, pr.seq_q, hidden});
      k = joule_test::random_tensor(rng, shape{pr.batch, pr.seq_k, hidden});
      v = joule_test::random_tensor(rng, shape{pr.batch, pr.seq_k, hidden});
      if (poison_k) k[0] = kNaN;
      q_data = q.data();
      k_data = k.data();
      v_data = v.data();
    }
    const auto mask = random_mask(rng, pr.batch, pr.seq_k);
    const joule::tensor_view<const float> mask_view = pr.with_mask ? mask.cview() : joule::tensor_view<const float>{};
    tensor<float> out(shape{pr.batch, pr.seq_q, hidden});
    std::fill_n(out.data(), out.numel(), kNaN);  // kernels must not read out
    if (pr.fused)
      joule::ops::attention_fused_qkv(ctx, qkv.cview(), mask_view, out.view(), pr.heads);
    else
      joule::ops::attention(ctx, q.cview(), k.cview(), v.cview(), mask_view, out.view(), pr.heads);

    const auto ref = joule_ref::attention(pr.batch, pr.seq_q, pr.seq_k, pr.heads, pr.head_dim, q_data, ld, k_data, ld,
                                          v_data, ld, pr.with_mask ? mask.data() : nullptr);
    std::ostringstream what;
    what << P::name() << (pr.fused ? " attention_fused_qkv" : " attention") << " batch=" << pr.batch
         << " seq_q=" << pr.seq_q << " seq_k=" << pr.seq_k << " heads=" << pr.heads << " head_dim=" << pr.head_dim
         << " mask=" << pr.with_mask << " threads=" << ctx.threads();
    joule_test::expect_within(out.span(), ref.value, ref.bound, what.str());
    if (poison_k)  // exactly head 0 of item 0 is NaN, for every query
      for (std::int64_t i = 0; i < out.numel(); ++i) {
        const bool head0_item0 = i < pr.seq_q * hidden && i % hidden < pr.head_dim;
        ASSERT_EQ(std::isnan(out[i]), head0_item0) << what.str() << ": element " << i;
      }
  }
};
TYPED_TEST_SUITE(attention_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

TYPED_TEST(attention_conformance, random_shapes_and_masks) {
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2, 3}) {
    joule::context<TypeParam> ctx(threads);
    for (int draw = 0; draw < 10; ++draw) {
      const bool fused = draw % 3 == 2;
      const auto seq_q = joule_test::uniform_int(rng, 1, 40);
      const problem pr{joule_test::uniform_int(rng, 1, 3),
                       seq_q,
                       fused ? seq_q : joule_test::uniform_int(rng, 1, 40),
                       joule_test::uniform_int(rng, 1, 4),
                       joule_test::uniform_int(rng, 1, 40),
                       rng() % 3 != 0,
                       fused};
      this->check(ctx, pr, rng);
    }
  }
}

TYPED_TEST(attention_conformance, degenerate_sizes) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, {1, 1, 1, 1, 1, true, false}, rng);
  this->check(ctx, {2, 1, 7, 3, 5, true, false}, rng);      // one query
  this->check(ctx, {1, 9, 1, 2, 3, false, false}, rng);     // one key: out = v
  this->check(ctx, {1, 150, 150, 1, 70, true, true}, rng);  // one pair, queries split across threads
  this->check(ctx, {0, 4, 4, 2, 3, true, false}, rng);      // no batch items
  this->check(ctx, {2, 0, 5, 2, 3, true, false}, rng);      // no queries
  this->check(ctx, {2, 3, 3, 2, 0, false, true}, rng);      // hidden 0
}

TYPED_TEST(attention_conformance, bert_base) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, {1, 128, 128, 12, 64, true, false}, rng);
  this->check(ctx, {1, 128, 128, 12, 64, true, true}, rng);
  this->check(ctx, {2, 128, 128, 12, 64, false, true}, rng);
}

TYPED_TEST(attention_conformance, nan_in_one_key_poisons_its_head_only) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, {2, 11, 13, 3, 19, true, false}, rng, true);
  this->check(ctx, {2, 17, 17, 4, 16, false, true}, rng, true);
}

TYPED_TEST(attention_conformance, second_run_takes_no_new_scratch) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  auto qkv = joule_test::random_tensor(rng, shape{1, 64, 3 * 256});
  tensor<float> out(shape{1, 64, 256});
  joule::ops::attention_fused_qkv(ctx, qkv.cview(), {}, out.view(), 4);
  const auto growths = ctx.scratch().growth_count();
  joule::ops::attention_fused_qkv(ctx, qkv.cview(), {}, out.view(), 4);
  EXPECT_EQ(ctx.scratch().growth_count(), growths) << TypeParam::name();
}

TYPED_TEST(attention_conformance, bad_input_is_a_clear_error) {
  joule::context<TypeParam> ctx(1);
  using joule::ops::attention;
  using joule::ops::attention_fused_qkv;
  tensor<float> q(shape{2, 5, 12}), k(shape{2, 7, 12}), v(shape{2, 7, 12}), out(shape{2, 5, 12}), mask(shape{2, 7});
  tensor<float> q10(shape{2, 5, 10}), k10(shape{2, 7, 10}), out10(shape{2, 5, 10});
  expect_error([&] { attention(ctx, q10.cview(), k10.cview(), k10.cview(), {}, out10.view(), 3); },
               "attention: hidden size 10 is not divisible by 3 heads");
  expect_error([&] { attention(ctx, q.cview(), k.cview(), v.cview(), {}, out.view(), 0); },
               "attention: heads must be > 0, got 0");
  expect_error([&] { attention(ctx, q.cview(), k.cview(), v.cview(), {}, out.view(), -2); },
               "heads must be > 0, got -2");
  tensor<float> mask_bad(shape{2, 5});
  expect_error([&] { attention(ctx, q.cview(), k.cview(), v.cview(), mask_bad.cview(), out.view(), 3); },
               "attention: mask must have shape [2, 7], got [2, 5]");
  tensor<float> v_short(shape{2, 6, 12});
  expect_error([&] { attention(ctx, q.cview(), k.cview(), v_short.cview(), {}, out.view(), 3); },
               "attention: v must have k's shape [2, 7, 12] (the same seq_k), got [2, 6, 12]");
  tensor<float> k_batch(shape{3, 7, 12});
  expect_error([&] { attention(ctx, q.cview(), k_batch.cview(), k_batch.cview(), {}, out.view(), 3); },
               "attention: k must be [2, seq_k, 12] to match q [2, 5, 12], got [3, 7, 12]");
  tensor<float> q2(shape{10, 12}), q4(shape{1, 2, 5, 12});
  expect_error([&] { attention(ctx, q2.cview(), k.cview(), v.cview(), {}, out.view(), 3); },
               "attention: q must have rank 3, got shape [10, 12]");
  expect_error([&] { attention(ctx, q4.cview(), k.cview(), v.cview(), {}, out.view(), 3); },
               "attention: q must have rank 3, got shape [1, 2, 5, 12]");
  tensor<float> out_bad(shape{2, 7, 12});
  expect_error([&] { attention(ctx, q.cview(), k.cview(), v.cview(), {}, out_bad.view(), 3); },
               "attention: out must have shape [2, 5, 12], got [2, 7, 12]");
  tensor<float> k0(shape{2, 0, 12});
  expect_error([&] { attention(ctx, q.cview(), k0.cview(), k0.cview(), {}, out.view(), 3); }, "seq_k = 0");
  expect_error([&] { attention(ctx, out.cview(), k.cview(), v.cview(), {}, out.view(), 3); },
               "attention: out overlaps q");
  expect_error(
      [&] {
        attention(ctx, q.cview(), joule::tensor_view<const float>(nullptr, shape{2, 7, 12}), v.cview(), {}, out.view(),
                  3);
      },
      "attention: k has shape [2, 7, 12] but a null data pointer");
  std::vector<char> raw(256 * sizeof(float));
  const auto* misaligned = reinterpret_cast<const float*>(raw.data() + 1);
  expect_error(
      [&] {
        attention(ctx, q.cview(), k.cview(), v.cview(), joule::tensor_view<const float>(misaligned, shape{2, 7}),
                  out.view(), 3);
      },
      "attention: mask data pointer is not aligned");

  tensor<float> qkv(shape{2, 5, 36}), qkv_bad(shape{2, 5, 30});
  expect_error([&] { attention_fused_qkv(ctx, qkv_bad.cview(), {}, out.view(), 4); },
               "attention_fused_qkv: qkv's last axis 30 (of [2, 5, 30]) is not divisible by 3 · 4 heads");
  expect_error([&] { attention_fused_qkv(ctx, qkv.cview(), {}, out.view(), 0); },
               "attention_fused_qkv: heads must be > 0");
  expect_error([&] { attention_fused_qkv(ctx, qkv.cview(), mask.cview(), out.view(), 3); },
               "attention_fused_qkv: mask must have shape [2, 5], got [2, 7]");
  expect_error([&] { attention_fused_qkv(ctx, q.cview(), {}, out.view(), 3); },
               "attention_fused_qkv: qkv's last axis 12 (of [2, 5, 12]) is not divisible by 3 · 3 heads");
}

}  // namespace
