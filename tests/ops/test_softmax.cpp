// Conformance of ops::softmax (over the last axis) on every CPU policy against the double-precision
// reference in tests/reference/softmax.hpp.
//
// Error bound (per element, u = 2^-24, p = the exact softmax, d_j = x_j - max):
//   |y_j - p_j| <= p_j · (gamma(cols) + (2E + 2 + |d_j| + sum_k p_k |d_k|) u) + 2^-125,  E = 6.
// Why: the kernels compute e_j = exp(fl(x_j - max)), S = sum e_k, y_j = e_j · (1 / S). The row
// maximum is one of the inputs, so it is exact. fl(x_j - max) is off by at most u |d_j|, which exp
// turns into a relative error of u |d_j|; exp itself adds at most E u relative (E = 6, i.e. 3 ulp:
// measured over [-87, 0] at <= 2.1u for xsimd::exp, <= 4.2u for Eigen's, <= 1u for glibc's expf).
// All e_k are positive, so the sum adds at most gamma(cols - 1) relative, in any order (vector
// partial sums included), and inherits the terms' errors weighted by p_k: (E + sum_k p_k |d_k|) u.
// 1 / S and the product round twice (2u). Adding the relative errors of e_j and S gives the bound
// (first order; the second-order terms are below u^2 · cols^2, far under the margin of the
// measured exp errors). 2^-125 covers probabilities below float's normal range, where exp may
// flush to 0 or keep a subnormal.
//
// Bad input tested (message fragment): a rank-0 x ("x must have rank >= 1"), y of another shape
// ("y must have shape"), a null data pointer ("null data pointer"), a misaligned float pointer
// ("not aligned"), y partly overlapping x ("y overlaps x"). Edge cases: ranks 1 to 4, row lengths
// not multiples of the vector width, one column (every output 1), no rows, no columns, in place,
// rows of large values (1000 + ..., which overflow exp without the max subtraction), rows with
// -inf (masked positions, exactly 0), BERT-base's attention probabilities [12, 128, 128], several
// thread counts; a NaN makes its row NaN and no other row; +inf makes its row NaN (inf - inf), as
// in PyTorch.
#include <limits>

#include <joule/ops/softmax.hpp>

#include "../common/testing.hpp"
#include "../reference/softmax.hpp"

namespace {

using joule_test::expect_error;

using joule::shape;
using joule::tensor;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

template <class P>
class softmax_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

  void check(joule::context<P>& ctx, const tensor<float>& x, bool in_place = false) {
    tensor<float> y(x.shape());
    if (in_place)
      std::copy_n(x.data(), x.numel(), y.data());
    else
      std::fill_n(y.data(), y.numel(), kNaN);  // must not be read
    joule::ops::softmax(ctx, in_place ? y.cview() : x.cview(), y.view());
    const std::int64_t cols = x.dim(-1), rows = cols ? x.numel() / cols : 0;
    const auto ref = joule_ref::softmax(x.data(), rows, cols);
    std::ostringstream what;
    what << P::name() << " softmax " << x.shape() << " in_place=" << in_place << " threads=" << ctx.threads();
    joule_test::expect_within(y.span(), ref.value, ref.bound, what.str());
  }
};
TYPED_TEST_SUITE(softmax_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

TYPED_TEST(softmax_conformance, random_shapes) {
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2, 3}) {
    joule::context<TypeParam> ctx(threads);
    for (int draw = 0; draw < 20; ++draw) {
      const auto rank = joule_test::uniform_int(rng, 1, 4);
      std::vector<std::int64_t> dims(rank);
      for (auto& d : dims) d = joule_test::uniform_int(rng, 1, 13);
      dims.back() = joule_test::uniform_int(rng, 1, 300);
      const float range = draw % 2 ? 10.f : 1.f;
      this->check(ctx, joule_test::random_tensor(rng, shape{std::span<const std::int64_t>(dims)}, -range, range),
                  draw % 4 == 3);
    }
  }
}

TYPED_TEST(softmax_conformance, degenerate_sizes_large_values_and_masks) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, joule_test::random_tensor(rng, shape{1}));
  this->check(ctx, joule_test::random_tensor(rng, shape{5, 1}));  // every output is 1
  this->check(ctx, joule_test::random_tensor(rng, shape{0, 7}));
  this->check(ctx, joule_test::random_tensor(rng, shape{3, 0}));
  this->check(ctx, joule_test::random_tensor(rng, shape{4, 45}, 1000.f, 1020.f));  // exp(1000) overflows
  auto masked = joule_test::random_tensor(rng, shape{6, 53}, -5.f, 5.f);
  for (std::int64_t i = 0; i < masked.numel(); i += 3) masked[i] = -kInf;
  for (std::int64_t i = 1; i < masked.numel(); i += 7) masked[i] = -10000.f;  // BERT's mask value
  tensor<float> y(masked.shape());
  joule::ops::softmax(ctx, masked.cview(), y.view());
  for (std::int64_t i = 0; i < masked.numel(); i += 3) EXPECT_EQ(y[i], 0.f) << TypeParam::name() << " masked " << i;
  this->check(ctx, masked);
}

TYPED_TEST(softmax_conformance, bert_base_attention_probabilities) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, joule_test::random_tensor(rng, shape{12, 128, 128}, -6.f, 6.f));
  this->check(ctx, joule_test::random_tensor(rng, shape{1, 12, 128, 128}, -6.f, 6.f), true);
}

TYPED_TEST(softmax_conformance, nan_poisons_its_row_only) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  auto x = joule_test::random_tensor(rng, shape{7, 37}, -3.f, 3.f);
  x[1 * 37 + 5] = kNaN;   // row 1
  x[3 * 37 + 36] = kNaN;  // row 3, in the vector tail
  x[5 * 37 + 20] = kInf;  // row 5: inf - inf is NaN
  x[6 * 37 + 2] = -kInf;  // row 6: a masked position, the row stays finite
  tensor<float> y(x.shape());
  joule::ops::softmax(ctx, x.cview(), y.view());
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    const std::int64_t row = i / 37;
    EXPECT_EQ(std::isnan(y[i]), row == 1 || row == 3 || row == 5) << TypeParam::name() << " element " << i;
  }
  this->check(ctx, x);
}

TYPED_TEST(softmax_conformance, bad_input_is_a_clear_error) {
  joule::context<TypeParam> ctx(1);
  tensor<float> scalar_x(shape{}), y(shape{4, 5}), x(shape{4, 5}), y_bad(shape{5, 4});
  expect_error([&] { joule::ops::softmax(ctx, scalar_x.cview(), scalar_x.view()); },
               "softmax: x must have rank >= 1, got shape []");
  expect_error([&] { joule::ops::softmax(ctx, x.cview(), y_bad.view()); },
               "softmax: y must have shape [4, 5], got [5, 4]");
  expect_error(
      [&] {
        joule::ops::softmax(ctx, joule::tensor_view<const float>(nullptr, shape{4, 5}), y.view());
      },
      "softmax: x has shape [4, 5] but a null data pointer");
  std::vector<char> raw(64 * sizeof(float));
  auto* misaligned = reinterpret_cast<float*>(raw.data() + 3);
  expect_error(
      [&] {
        joule::ops::softmax(ctx, x.cview(), joule::tensor_view<float>(misaligned, shape{4, 5}));
      },
      "softmax: y data pointer is not aligned");
  tensor<float> big(shape{32});
  expect_error(
      [&] {
        joule::ops::softmax(ctx, joule::tensor_view<const float>(big.data(), shape{4, 5}),
                            joule::tensor_view<float>(big.data() + 5, shape{4, 5}));
      },
      "softmax: y overlaps x");
}

}  // namespace
