// Conformance of ops::batched_matmul on every CPU policy against the double-precision reference
// joule_ref::batched_matmul (joule_ref::gemm per item, tests/reference/batched_matmul.hpp).
//
// Error bound (per element): gamma(k + 2) · |alpha| · sum_p |a_ip b_pj|, u = 2^-24, plus 1e-37.
// gamma(k) is Higham's worst case for a float32 sum of k products in any order (blocked,
// vectorised, FMA, OpenBLAS or Eigen kernels alike); scaling by alpha rounds once more, and one
// further u covers alpha applied before or after the sum.
//
// Bad input tested (message fragment): rank 2 ("A must have rank 3 to 5"), B of another rank ("B
// must have A's rank"), leading axes that differ ("leading (batch) axes"), inner dimensions that
// differ ("inner dimensions 4 and 5 differ"), C of the wrong shape ("C must have shape"), C
// overlapping A ("C overlaps A"), a null data pointer ("null data pointer"), a misaligned float
// pointer ("not aligned"). Edge cases: ranks 3 to 5, sizes not multiples of the vector width,
// m = n = k = 1, k = 0 (C = 0, which needs the kernel to write C), one item (fewer items than
// threads), no items, BERT-base's attention products [12, 128, 64] · [12, 128, 64]ᵀ / 8 and
// [12, 128, 128] · [12, 128, 64], several thread counts, and a NaN in A item i that must stay in
// its row of C item i, an Inf in B item j that must stay in its column of C item j.
#include <limits>

#include <joule/ops/batched_matmul.hpp>

#include "../common/testing.hpp"
#include "../reference/batched_matmul.hpp"

namespace {

using joule_test::expect_error;

using joule::shape;
using joule::tensor;
using joule_test::gamma;

struct problem {
  std::vector<std::int64_t> batch_dims;
  std::int64_t m, n, k;
  bool trans_b;
  float alpha;
};

shape with_matrix(const std::vector<std::int64_t>& batch_dims, std::int64_t rows, std::int64_t cols) {
  std::vector<std::int64_t> dims = batch_dims;
  dims.push_back(rows);
  dims.push_back(cols);
  return shape{std::span<const std::int64_t>(dims)};
}

template <class P>
class batched_matmul_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

  void check(joule::context<P>& ctx, const problem& pr, std::mt19937_64& rng, float nan_in_a = 0.f,
             float inf_in_b = 0.f) {
    auto a = joule_test::random_tensor(rng, with_matrix(pr.batch_dims, pr.m, pr.k));
    auto b = joule_test::random_tensor(
        rng, pr.trans_b ? with_matrix(pr.batch_dims, pr.n, pr.k) : with_matrix(pr.batch_dims, pr.k, pr.n));
    if (nan_in_a != 0.f && a.numel() > 0) a[a.numel() / 2] = nan_in_a;
    if (inf_in_b != 0.f && b.numel() > 0) b[b.numel() / 3] = inf_in_b;
    tensor<float> c(with_matrix(pr.batch_dims, pr.m, pr.n));
    std::fill_n(c.data(), c.numel(), std::numeric_limits<float>::quiet_NaN());  // kernels must not read C
    joule::ops::batched_matmul(ctx, a.cview(), b.cview(), c.view(), pr.trans_b, pr.alpha);
    std::int64_t batch = 1;
    for (auto d : pr.batch_dims) batch *= d;
    const auto ref = joule_ref::batched_matmul(batch, pr.m, pr.n, pr.k, a.data(), b.data(), pr.trans_b, pr.alpha);
    std::vector<double> bound(ref.value.size());
    for (std::size_t i = 0; i < bound.size(); ++i) bound[i] = gamma(pr.k + 2) * ref.magnitude[i] + 1e-37;
    std::ostringstream what;
    what << P::name() << " batched_matmul A " << a.shape() << " B " << b.shape() << " trans_b=" << pr.trans_b
         << " alpha=" << pr.alpha << " threads=" << ctx.threads();
    joule_test::expect_within(c.span(), ref.value, bound, what.str());
  }
};
TYPED_TEST_SUITE(batched_matmul_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

TYPED_TEST(batched_matmul_conformance, random_shapes) {
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2, 3}) {
    joule::context<TypeParam> ctx(threads);
    for (int draw = 0; draw < 12; ++draw) {
      std::vector<std::int64_t> batch_dims(static_cast<std::size_t>(joule_test::uniform_int(rng, 1, 3)));
      for (auto& d : batch_dims) d = joule_test::uniform_int(rng, 1, 4);
      const problem pr{batch_dims,
                       joule_test::uniform_int(rng, 1, 70),
                       joule_test::uniform_int(rng, 1, 70),
                       joule_test::uniform_int(rng, 1, 90),
                       rng() % 2 == 0,
                       rng() % 3 == 0 ? 0.125f : 1.f};
      this->check(ctx, pr, rng);
    }
  }
}

TYPED_TEST(batched_matmul_conformance, degenerate_sizes) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, {{1}, 1, 1, 1, false, 1.f}, rng);
  this->check(ctx, {{3}, 4, 5, 0, false, 1.f}, rng);  // k = 0: C = 0
  this->check(ctx, {{4}, 4, 5, 0, true, 2.f}, rng);   // k = 0 with as many items as threads
  this->check(ctx, {{0}, 4, 5, 6, false, 1.f}, rng);  // no items
  this->check(ctx, {{2, 0}, 4, 5, 6, true, 1.f}, rng);
  this->check(ctx, {{5}, 0, 5, 6, true, 1.f}, rng);      // empty items
  this->check(ctx, {{1}, 90, 77, 300, true, 1.f}, rng);  // one item split across threads
  this->check(ctx, {{2, 2, 2}, 3, 17, 33, false, -1.f}, rng);
}

TYPED_TEST(batched_matmul_conformance, bert_base_attention_products) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, {{12}, 128, 128, 64, true, 0.125f}, rng);  // scores = Q Kᵀ / sqrt(64)
  this->check(ctx, {{12}, 128, 64, 128, false, 1.f}, rng);    // context = P V
  this->check(ctx, {{1, 12}, 128, 128, 64, true, 0.125f}, rng);
}

TYPED_TEST(batched_matmul_conformance, nan_and_inf_stay_where_they_belong) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, {{5}, 20, 30, 40, false, 1.f}, rng, std::numeric_limits<float>::quiet_NaN());
  this->check(ctx, {{5}, 20, 30, 40, true, 1.f}, rng, 0.f, std::numeric_limits<float>::infinity());
}

TYPED_TEST(batched_matmul_conformance, bad_input_is_a_clear_error) {
  joule::context<TypeParam> ctx(1);
  using joule::ops::batched_matmul;
  tensor<float> a(shape{2, 3, 4}), b(shape{2, 4, 5}), c(shape{2, 3, 5});
  tensor<float> a2(shape{3, 4}), b2(shape{4, 5}), c2(shape{3, 5});
  expect_error([&] { batched_matmul(ctx, a2.cview(), b2.cview(), c2.view()); },
               "batched_matmul: A must have rank 3 to 5, got shape [3, 4]");
  tensor<float> b4(shape{1, 2, 4, 5});
  expect_error([&] { batched_matmul(ctx, a.cview(), b4.cview(), c.view()); }, "batched_matmul: B must have A's rank 3");
  tensor<float> b_batch(shape{3, 4, 5});
  expect_error([&] { batched_matmul(ctx, a.cview(), b_batch.cview(), c.view()); },
               "batched_matmul: the leading (batch) axes of A [2, 3, 4] and B [3, 4, 5] differ");
  tensor<float> b_inner(shape{2, 5, 5});
  expect_error([&] { batched_matmul(ctx, a.cview(), b_inner.cview(), c.view()); }, "inner dimensions 4 and 5 differ");
  expect_error([&] { batched_matmul(ctx, a.cview(), b.cview(), c.view(), true); }, "inner dimensions 4 and 5 differ");
  tensor<float> c_bad(shape{2, 5, 3});
  expect_error([&] { batched_matmul(ctx, a.cview(), b.cview(), c_bad.view()); },
               "batched_matmul: C must have shape [2, 3, 5], got [2, 5, 3]");
  tensor<float> square(shape{2, 4, 4});
  expect_error([&] { batched_matmul(ctx, square.cview(), square.cview(), square.view()); },
               "batched_matmul: C overlaps A");
  expect_error(
      [&] {
        batched_matmul(ctx, joule::tensor_view<const float>(nullptr, shape{2, 3, 4}), b.cview(), c.view());
      },
      "batched_matmul: A has shape [2, 3, 4] but a null data pointer");
  std::vector<char> raw(64 * sizeof(float));
  const auto* misaligned = reinterpret_cast<const float*>(raw.data() + 1);
  expect_error(
      [&] {
        batched_matmul(ctx, a.cview(), joule::tensor_view<const float>(misaligned, shape{2, 4, 5}), c.view());
      },
      "batched_matmul: B data pointer is not aligned");
}

}  // namespace
