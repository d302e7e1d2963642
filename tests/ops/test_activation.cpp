// Conformance of ops::activate and its named forms (relu, relu6, gelu, tanh) on every CPU policy
// against the double-precision reference joule_ref::activation (tests/reference/gemm.hpp).
//
// Error bound (per element, u = 2^-24): none, relu and relu6 are exact (bound 0): they only
// compare and copy. gelu_erf, gelu_tanh and tanh: 8u · (|ref| + |x|). The kernels evaluate the
// float formulas of apply_activation(); their error has three parts: (1) the roundings of the
// argument (x / sqrt 2, or the cubic 0.7979 (x + 0.044715 x^3): at most 3u relative), which GELU's
// sensitivity to its erf/tanh argument (at most 0.3 |x| per unit of relative error) turns into at
// most 1u · |x|; (2) erf's or tanh's own error, a few ulp of a value of magnitude <= 1 (xsimd and
// glibc measured at <= 1.4 ulp), which 0.5 x (1 + ...) scales into <= 2u · |x|, and which is
// absolute, not relative, where 1 + erf cancels for negative x; (3) the final product's roundings,
// <= 3u · |ref|. The sum is <= 3u (|ref| + |x|); 8u leaves a margin of 2.5 (the largest ratio
// measured over [-100, 100] for xsimd and glibc was 1.35u · (|ref| + |x|)).
//
// Bad input tested (message fragment): y of another shape ("y must have shape"), a null data
// pointer ("null data pointer"), a misaligned float pointer ("not aligned"), y partly overlapping
// x ("y overlaps x"). Edge cases: rank 1 to 4 with sizes not multiples of the vector width, a
// single element, an empty tensor, in place (y is x), BERT-base's [128, 3072] GELU, several thread
// counts, and NaN / +-inf in one element, which must change that element only.
#include <cstring>
#include <limits>

#include <joule/ops/activation.hpp>

#include "../common/testing.hpp"
#include "../reference/activation.hpp"

namespace {

using joule_test::expect_error;

using joule::activation;
using joule::shape;
using joule::tensor;
using joule_test::kUnitRoundoff;

constexpr activation kActivations[] = {activation::none,     activation::relu,      activation::relu6,
                                       activation::gelu_erf, activation::gelu_tanh, activation::tanh};

bool is_exact(activation act) { return act == activation::none || act == activation::relu || act == activation::relu6; }

/** The bound of the header comment for every element. */
std::vector<double> bound_for(activation act, const joule_ref::elementwise_result& ref) {
  std::vector<double> bound(ref.value.size(), 0.0);
  if (!is_exact(act))
    for (std::size_t i = 0; i < bound.size(); ++i)
      bound[i] = 8 * kUnitRoundoff * (std::abs(ref.value[i]) + ref.magnitude[i]);
  return bound;
}

/** A random shape of rank 1 to 4 whose sizes are rarely multiples of a vector width. */
shape random_shape(std::mt19937_64& rng) {
  const auto rank = joule_test::uniform_int(rng, 1, 4);
  std::vector<std::int64_t> dims(rank);
  for (auto& d : dims) d = joule_test::uniform_int(rng, 1, rank == 1 ? 300 : 23);
  return shape{std::span<const std::int64_t>(dims)};
}

template <class P>
class activation_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

  /** Runs act on @p x (out of place, or in place) and checks every element against the reference. */
  void check(joule::context<P>& ctx, const tensor<float>& x, activation act, bool in_place = false) {
    tensor<float> y(x.shape());
    if (in_place)
      std::copy_n(x.data(), x.numel(), y.data());
    else
      std::fill_n(y.data(), y.numel(), std::numeric_limits<float>::quiet_NaN());  // must not be read
    joule::ops::activate(ctx, in_place ? y.cview() : x.cview(), y.view(), act);
    const auto ref = joule_ref::activate(act, x.data(), x.numel());
    std::ostringstream what;
    what << P::name() << " activation " << joule::activation_name(act) << " shape " << x.shape()
         << " in_place=" << in_place << " threads=" << ctx.threads();
    joule_test::expect_within(y.span(), ref.value, bound_for(act, ref), what.str());
  }
};
TYPED_TEST_SUITE(activation_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

TYPED_TEST(activation_conformance, random_shapes_every_activation) {
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2, 3}) {
    joule::context<TypeParam> ctx(threads);
    for (activation act : kActivations)
      for (int draw = 0; draw < 4; ++draw) {
        auto x = joule_test::random_tensor(rng, random_shape(rng), -8.f, 8.f);
        this->check(ctx, x, act, draw == 3);
      }
  }
}

TYPED_TEST(activation_conformance, wide_range_of_values) {
  // Far tails: erf and tanh saturate, 1 + erf(x) cancels to 0, x^3 overflows in gelu_tanh.
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  auto x = joule_test::random_tensor(rng, shape{1000});
  const float specials[] = {0.f,  -0.f,   1e-30f, -1e-30f, 1e-3f, -5.5f,  5.5f, -12.f,
                            12.f, -100.f, 100.f,  -1e13f,  1e13f, -1e30f, 1e30f};
  const auto n_specials = static_cast<std::int64_t>(std::size(specials));
  for (std::int64_t i = 0; i < x.numel(); ++i)
    x[i] = i < n_specials ? specials[i] : x[i] * std::pow(10.f, float(i % 5));
  for (activation act : kActivations) this->check(ctx, x, act);
}

TYPED_TEST(activation_conformance, degenerate_sizes_and_bert) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  for (activation act : kActivations) {
    this->check(ctx, joule_test::random_tensor(rng, shape{1}), act);
    this->check(ctx, joule_test::random_tensor(rng, shape{0, 5}), act);
    this->check(ctx, joule_test::random_tensor(rng, shape{3, 0}), act);
  }
  // BERT-base's intermediate activation, batch 1, seq 128 (GELU after the 768 -> 3072 linear).
  this->check(ctx, joule_test::random_tensor(rng, shape{128, 3072}, -4.f, 4.f), activation::gelu_erf);
  this->check(ctx, joule_test::random_tensor(rng, shape{128, 3072}, -4.f, 4.f), activation::gelu_erf, true);
}

TYPED_TEST(activation_conformance, named_forms_match_activate) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  auto x = joule_test::random_tensor(rng, shape{7, 33}, -8.f, 8.f);
  tensor<float> want(x.shape()), got(x.shape());
  auto same = [&](activation act, const char* name) {
    joule::ops::activate(ctx, x.cview(), want.view(), act);
    EXPECT_EQ(std::memcmp(want.data(), got.data(), sizeof(float) * x.numel()), 0) << TypeParam::name() << " " << name;
  };
  joule::ops::relu(ctx, x.cview(), got.view());
  same(activation::relu, "relu");
  joule::ops::relu6(ctx, x.cview(), got.view());
  same(activation::relu6, "relu6");
  joule::ops::gelu(ctx, x.cview(), got.view());
  same(activation::gelu_erf, "gelu");
  joule::ops::gelu(ctx, x.cview(), got.view(), true);
  same(activation::gelu_tanh, "gelu tanh approximation");
  joule::ops::tanh(ctx, x.cview(), got.view());
  same(activation::tanh, "tanh");
}

TYPED_TEST(activation_conformance, nan_and_inf_change_only_their_element) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN(), kInf = std::numeric_limits<float>::infinity();
  for (activation act : kActivations) {
    auto x = joule_test::random_tensor(rng, shape{5, 37}, -8.f, 8.f);
    x[3] = kNaN;
    x[40] = kInf;
    x[77] = -kInf;
    x[x.numel() - 1] = kNaN;  // in the vector tail
    tensor<float> y(x.shape());
    joule::ops::activate(ctx, x.cview(), y.view(), act);
    EXPECT_TRUE(std::isnan(y[3]) && std::isnan(y[x.numel() - 1]))
        << TypeParam::name() << " " << joule::activation_name(act);
    // The reference decides +-inf (relu(-inf) = 0, gelu(-inf) = -inf · 0 = NaN, tanh(inf) = 1);
    // every other element must match as if the specials were not there.
    this->check(ctx, x, act);
  }
}

TYPED_TEST(activation_conformance, bad_input_is_a_clear_error) {
  joule::context<TypeParam> ctx(1);
  tensor<float> x(shape{3, 4}), y_bad(shape{4, 3}), y(shape{3, 4});
  expect_error([&] { joule::ops::relu(ctx, x.cview(), y_bad.view()); },
               "activation: y must have shape [3, 4], got [4, 3]");
  expect_error(
      [&] {
        joule::ops::gelu(ctx, joule::tensor_view<const float>(nullptr, shape{3, 4}), y.view());
      },
      "activation: x has shape [3, 4] but a null data pointer");
  std::vector<char> raw(64 * sizeof(float));
  auto* misaligned = reinterpret_cast<float*>(raw.data() + 1);
  expect_error(
      [&] {
        joule::ops::tanh(ctx, x.cview(), joule::tensor_view<float>(misaligned, shape{3, 4}));
      },
      "activation: y data pointer is not aligned");
  tensor<float> big(shape{16});
  expect_error(
      [&] {
        joule::ops::relu6(ctx, joule::tensor_view<const float>(big.data(), shape{8}),
                          joule::tensor_view<float>(big.data() + 4, shape{8}));
      },
      "activation: y overlaps x");
}

}  // namespace
