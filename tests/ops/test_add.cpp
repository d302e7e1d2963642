// Conformance of ops::add (y = act(a + b), b broadcast over a's leading axes) on every CPU policy
// against the double-precision reference in tests/reference/activation.hpp.
//
// Error bound (per element, u = 2^-24, M = |a| + |b|): the sum is rounded once, an error of at
// most u · |a + b| <= gamma(1) · M. For none, relu and relu6 that is all (they are exact
// afterwards): bound gamma(1) · M. For gelu_erf, gelu_tanh and tanh the activation's largest slope
// (GELU's, 1.13; 1.2 is used) carries the sum's error through, and the activation adds its own
// 8u · (|ref| + M) (justified in test_activation.cpp with |x| <= M): bound 1.2 gamma(1) M +
// 8u (|ref| + M), the same form as test_gemm.cpp's with k = 0.
//
// Bad input tested (message fragment): b not a trailing part of a's shape ("is not a trailing part
// of a's shape"), b of higher rank than a (same message), y of another shape ("y must have
// shape"), a null data pointer ("null data pointer"), a misaligned float pointer ("not aligned"),
// y partly overlapping a ("y overlaps a") or overlapping b ("y overlaps b"). Edge cases: every
// broadcast from b = a's shape down to a rank-0 b (one value), sizes not multiples of the vector
// width, one element, empty a ([0, 768] + [768]), in place (y is a; y is b when b has a's shape),
// BERT-base's [1, 128, 768] + [128, 768] position add and [128, 3072] + [3072] bias + GELU, several
// thread counts, and NaN in a (only its element) or in b (only the elements b[j] reaches).
#include <limits>

#include <joule/ops/add.hpp>

#include "../common/testing.hpp"
#include "../reference/activation.hpp"

namespace {

using joule_test::expect_error;

using joule::activation;
using joule::shape;
using joule::tensor;
using joule_test::gamma;
using joule_test::kUnitRoundoff;

constexpr activation kActivations[] = {activation::none,     activation::relu,      activation::relu6,
                                       activation::gelu_erf, activation::gelu_tanh, activation::tanh};

/** The bound of the header comment for every element. */
std::vector<double> bound_for(activation act, const joule_ref::elementwise_result& ref) {
  const bool exact = act == activation::none || act == activation::relu || act == activation::relu6;
  std::vector<double> bound(ref.value.size());
  for (std::size_t i = 0; i < bound.size(); ++i) {
    const double m = ref.magnitude[i];
    bound[i] = exact ? gamma(1) * m : 1.2 * gamma(1) * m + 8 * kUnitRoundoff * (std::abs(ref.value[i]) + m);
  }
  return bound;
}

/** The last @p rank axes of @p s. */
shape trailing(const shape& s, int rank) {
  return shape{std::span<const std::int64_t>(s.dims().end() - rank, s.dims().end())};
}

template <class P>
class add_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

  enum class alias { none, a, b };

  void check(joule::context<P>& ctx, const tensor<float>& a, const tensor<float>& b, activation act,
             alias in_place = alias::none) {
    tensor<float> y(a.shape());
    joule::tensor_view<const float> a_view = a.cview(), b_view = b.cview();
    if (in_place == alias::a) {
      std::copy_n(a.data(), a.numel(), y.data());
      a_view = y.cview();
    } else if (in_place == alias::b) {
      std::copy_n(b.data(), b.numel(), y.data());
      b_view = y.cview();
    } else {
      std::fill_n(y.data(), y.numel(), std::numeric_limits<float>::quiet_NaN());  // must not be read
    }
    joule::ops::add(ctx, a_view, b_view, y.view(), act);
    const auto ref = joule_ref::add(act, a.data(), a.numel(), b.data(), b.numel());
    std::ostringstream what;
    what << P::name() << " add a " << a.shape() << " b " << b.shape() << " act " << joule::activation_name(act)
         << " in_place=" << int(in_place) << " threads=" << ctx.threads();
    joule_test::expect_within(y.span(), ref.value, bound_for(act, ref), what.str());
  }
};
TYPED_TEST_SUITE(add_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

TYPED_TEST(add_conformance, random_shapes_and_broadcasts) {
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2, 3}) {
    joule::context<TypeParam> ctx(threads);
    for (int draw = 0; draw < 30; ++draw) {
      const auto rank = joule_test::uniform_int(rng, 1, 4);
      std::vector<std::int64_t> dims(rank);
      for (auto& d : dims) d = joule_test::uniform_int(rng, 1, rank == 1 ? 200 : 21);
      const shape a_shape{std::span<const std::int64_t>(dims)};
      const int b_rank = static_cast<int>(joule_test::uniform_int(rng, 0, rank));
      auto a = joule_test::random_tensor(rng, a_shape, -4.f, 4.f);
      auto b = joule_test::random_tensor(rng, trailing(a_shape, b_rank), -4.f, 4.f);
      const auto act = kActivations[rng() % 6];
      this->check(ctx, a, b, act, draw % 5 == 4 ? TestFixture::alias::a : TestFixture::alias::none);
    }
  }
}

TYPED_TEST(add_conformance, degenerate_sizes_and_aliases) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  using alias = typename TestFixture::alias;
  this->check(ctx, joule_test::random_tensor(rng, shape{1}), joule_test::random_tensor(rng, shape{1}),
              activation::none);
  this->check(ctx, joule_test::random_tensor(rng, shape{0, 768}), joule_test::random_tensor(rng, shape{768}),
              activation::relu);
  this->check(ctx, joule_test::random_tensor(rng, shape{37, 5}), joule_test::random_tensor(rng, shape{}),
              activation::gelu_erf);  // a rank-0 b: one value added everywhere
  this->check(ctx, joule_test::random_tensor(rng, shape{9, 41}), joule_test::random_tensor(rng, shape{9, 41}),
              activation::tanh, alias::b);
  this->check(ctx, joule_test::random_tensor(rng, shape{9, 41}), joule_test::random_tensor(rng, shape{41}),
              activation::relu6, alias::a);
}

TYPED_TEST(add_conformance, bert_base_shapes) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  // Word embeddings + position embeddings, batch 1, seq 128.
  this->check(ctx, joule_test::random_tensor(rng, shape{1, 128, 768}), joule_test::random_tensor(rng, shape{128, 768}),
              activation::none);
  // The intermediate linear's bias and GELU as a separate pass.
  this->check(ctx, joule_test::random_tensor(rng, shape{128, 3072}, -3.f, 3.f),
              joule_test::random_tensor(rng, shape{3072}), activation::gelu_erf, TestFixture::alias::a);
  this->check(ctx, joule_test::random_tensor(rng, shape{2, 128, 768}), joule_test::random_tensor(rng, shape{768}),
              activation::none);
}

TYPED_TEST(add_conformance, nan_stays_with_what_depends_on_it) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  for (activation act : {activation::none, activation::relu, activation::gelu_erf}) {
    auto a = joule_test::random_tensor(rng, shape{6, 35});
    auto b = joule_test::random_tensor(rng, shape{35});
    a[50] = kNaN;  // row 1, column 15: that element only
    b[33] = kNaN;  // column 33 of every row
    tensor<float> y(a.shape());
    joule::ops::add(ctx, a.cview(), b.cview(), y.view(), act);
    for (std::int64_t i = 0; i < y.numel(); ++i)
      EXPECT_EQ(std::isnan(y[i]), i == 50 || i % 35 == 33) << TypeParam::name() << " element " << i;
    this->check(ctx, a, b, act);
  }
}

TYPED_TEST(add_conformance, bad_input_is_a_clear_error) {
  joule::context<TypeParam> ctx(1);
  tensor<float> a(shape{2, 3, 4}), y(shape{2, 3, 4}), b3(shape{3}), b_high(shape{1, 2, 3, 4});
  expect_error([&] { joule::ops::add(ctx, a.cview(), b3.cview(), y.view()); },
               "add: b of shape [3] is not a trailing part of a's shape [2, 3, 4]");
  expect_error([&] { joule::ops::add(ctx, a.cview(), b_high.cview(), y.view()); },
               "add: b of shape [1, 2, 3, 4] is not a trailing part of a's shape [2, 3, 4]");
  tensor<float> b(shape{3, 4}), y_bad(shape{2, 12});
  expect_error([&] { joule::ops::add(ctx, a.cview(), b.cview(), y_bad.view()); },
               "add: y must have shape [2, 3, 4], got [2, 12]");
  expect_error(
      [&] {
        joule::ops::add(ctx, a.cview(), joule::tensor_view<const float>(nullptr, shape{3, 4}), y.view());
      },
      "add: b has shape [3, 4] but a null data pointer");
  std::vector<char> raw(64 * sizeof(float));
  const auto* misaligned = reinterpret_cast<const float*>(raw.data() + 2);
  expect_error(
      [&] {
        joule::ops::add(ctx, joule::tensor_view<const float>(misaligned, shape{2, 3, 4}), b.cview(), y.view());
      },
      "add: a data pointer is not aligned");
  tensor<float> big(shape{64});
  expect_error(
      [&] {
        joule::ops::add(ctx, joule::tensor_view<const float>(big.data(), shape{2, 3, 4}), b.cview(),
                        joule::tensor_view<float>(big.data() + 8, shape{2, 3, 4}));
      },
      "add: y overlaps a");
  expect_error(
      [&] {
        joule::ops::add(ctx, a.cview(), joule::tensor_view<const float>(big.data(), shape{3, 4}),
                        joule::tensor_view<float>(big.data() + 4, shape{2, 3, 4}));
      },
      "add: y overlaps b");
}

}  // namespace
