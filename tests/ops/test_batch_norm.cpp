// Conformance of ops::batch_norm (inference) on every CPU policy against the double-precision
// reference in tests/reference/batch_norm.hpp.
//
// Error bound (per element): 1.2 · 8u · M + 8u · (|ref| + M), u = 2^-24, M = |x · s| + |mean · s| +
// |beta|, s = gamma / sqrt(var + eps). Kernels compute y = x · s' + (beta - mean · s') in float:
// s' = gamma / sqrt(var + eps) carries at most 3 roundings (the add, the square root's half, the
// division: relative error <= 2.5u); the shift beta - mean · s' then errs by at most 2.5u |mean s| from
// s' plus 2 roundings (<= 2u (|mean s| + |beta|)); the multiply-add errs by 2.5u |x s| from s' plus at
// most 2 roundings of its own (<= 2u (|x s| + |shift|)). Summed, about 7u · M; 8u · M with 1.2 for the
// activation's slope covers it, and 8u · (|ref| + M) the activation's own rounding, as in test_gemm.cpp.
//
// Shapes: ranks 2 to 5 with random sizes (inner sizes not multiples of the vector width, inner = 1 for
// rank 2), every activation, in place (y = x) and out of place, ResNet-50's [1, 64, 112, 112] and
// MobileNetV2's [1, 960, 7, 7] batch-norms, an empty batch and an empty inner axis (no-ops). NaN: a NaN
// input stays in its own element.
//
// Bad input tested (message fragment): x of rank < 2 ("x must have rank >= 2"), y of another shape
// ("y must have shape [2, 3, 4]"), parameters not [c] ("mean must have shape [3]", "var must have
// shape [3]", "gamma must have shape [3]", "beta must have shape [3]"), y partly overlapping x ("y
// overlaps x"), y overlapping a parameter ("y overlaps gamma"), a null pointer ("null data pointer").
#include <limits>

#include <joule/ops/batch_norm.hpp>

#include "../common/testing.hpp"
#include "../reference/batch_norm.hpp"

namespace {

using joule_test::expect_error;

using joule::activation;
using joule::shape;
using joule::tensor;
using joule_test::kUnitRoundoff;

constexpr activation kActivations[] = {activation::none,     activation::relu,      activation::relu6,
                                       activation::gelu_erf, activation::gelu_tanh, activation::tanh};

template <class P>
class batch_norm_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

  /** Normalises random data of @p s on policy P (in place when @p in_place) and checks it. */
  void check(joule::context<P>& ctx, const shape& s, activation act, bool in_place, std::mt19937_64& rng,
             std::int64_t nan_index = -1) {
    const std::int64_t c = s[1];
    auto x = joule_test::random_tensor(rng, s, -3.f, 3.f);
    if (nan_index >= 0) x[nan_index] = std::numeric_limits<float>::quiet_NaN();
    auto mean = joule_test::random_tensor(rng, shape{c});
    auto var = joule_test::random_tensor(rng, shape{c}, 0.f, 2.f);
    auto gamma = joule_test::random_tensor(rng, shape{c}, -2.f, 2.f);
    auto beta = joule_test::random_tensor(rng, shape{c});
    const float eps = 1e-5f;
    const tensor<float> x_copy = x;
    tensor<float> y_separate(s);
    for (auto& v : y_separate.span()) v = std::numeric_limits<float>::quiet_NaN();
    tensor<float>& y = in_place ? x : y_separate;
    joule::ops::batch_norm(ctx, x.cview(), y.view(), mean.cview(), var.cview(), gamma.cview(), beta.cview(), eps, act);

    const std::int64_t inner = s.numel() / std::max<std::int64_t>(1, s[0] * c);
    std::vector<double> want(s.numel()), bound(want.size());
    for (std::int64_t i = 0; i < s.numel(); ++i) {
      const auto e = joule_ref::batch_norm_at(c, inner, x_copy.data(), mean.data(), var.data(), gamma.data(),
                                              beta.data(), eps, act, i);
      want[i] = e.value;
      bound[i] = 1.2 * 8 * kUnitRoundoff * e.magnitude + 8 * kUnitRoundoff * (std::abs(e.value) + e.magnitude) + 1e-37;
    }
    std::ostringstream what;
    what << P::name() << " batch_norm x " << s << " act=" << joule::activation_name(act) << " in_place=" << in_place
         << " threads=" << ctx.threads();
    joule_test::expect_within(y.span(), want, bound, what.str());
  }
};
TYPED_TEST_SUITE(batch_norm_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

TYPED_TEST(batch_norm_conformance, random_shapes_and_activations) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  for (int draw = 0; draw < 30; ++draw) {
    std::vector<std::int64_t> dims = {joule_test::uniform_int(rng, 1, 3), joule_test::uniform_int(rng, 1, 40)};
    const int rank = static_cast<int>(joule_test::uniform_int(rng, 2, 5));
    for (int axis = 2; axis < rank; ++axis) dims.push_back(joule_test::uniform_int(rng, 1, rank == 5 ? 6 : 30));
    this->check(ctx, shape(std::span<const std::int64_t>(dims)), kActivations[rng() % 6], rng() % 2 == 0, rng);
  }
}

TYPED_TEST(batch_norm_conformance, model_shapes) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, shape{1, 64, 112, 112}, activation::relu, true, rng);  // ResNet-50, after the stem
  this->check(ctx, shape{1, 960, 7, 7}, activation::relu6, false, rng);   // MobileNetV2, last depthwise
}

TYPED_TEST(batch_norm_conformance, edge_shapes_and_nan) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(1);
  this->check(ctx, shape{1, 1}, activation::none, false, rng);
  this->check(ctx, shape{5, 3}, activation::relu, true, rng);
  this->check(ctx, shape{2, 3, 17}, activation::relu, false, rng, 20);
  this->check(ctx, shape{1, 2, 5, 7}, activation::relu6, true, rng, 0);
  tensor<float> empty(shape{0, 3, 4, 4}), empty_inner(shape{2, 3, 0}), p(shape{3});
  EXPECT_NO_THROW(joule::ops::batch_norm(ctx, empty.cview(), empty.view(), p.cview(), p.cview(), p.cview(), p.cview()));
  EXPECT_NO_THROW(
      joule::ops::batch_norm(ctx, empty_inner.cview(), empty_inner.view(), p.cview(), p.cview(), p.cview(), p.cview()));
}

TYPED_TEST(batch_norm_conformance, bad_input_is_a_clear_error) {
  joule::context<TypeParam> ctx(1);
  tensor<float> x(shape{2, 3, 4}), y(shape{2, 3, 4}), p(shape{3}), p4(shape{4}), rank1(shape{3});
  const auto run = [&](joule::tensor_view<const float> in, joule::tensor_view<float> out,
                       joule::tensor_view<const float> mean, joule::tensor_view<const float> var,
                       joule::tensor_view<const float> gamma, joule::tensor_view<const float> beta) {
    joule::ops::batch_norm(ctx, in, out, mean, var, gamma, beta);
  };
  expect_error([&] { run(rank1.cview(), rank1.view(), p.cview(), p.cview(), p.cview(), p.cview()); },
               "x must have rank >= 2");
  tensor<float> y_bad(shape{2, 3, 5});
  expect_error([&] { run(x.cview(), y_bad.view(), p.cview(), p.cview(), p.cview(), p.cview()); },
               "y must have shape [2, 3, 4]");
  expect_error([&] { run(x.cview(), y.view(), p4.cview(), p.cview(), p.cview(), p.cview()); },
               "mean must have shape [3]");
  expect_error([&] { run(x.cview(), y.view(), p.cview(), p4.cview(), p.cview(), p.cview()); },
               "var must have shape [3]");
  expect_error([&] { run(x.cview(), y.view(), p.cview(), p.cview(), p4.cview(), p.cview()); },
               "gamma must have shape [3]");
  expect_error([&] { run(x.cview(), y.view(), p.cview(), p.cview(), p.cview(), p4.cview()); },
               "beta must have shape [3]");
  tensor<float> shared(shape{64});
  expect_error(
      [&] {
        run(joule::tensor_view<const float>(shared.data(), x.shape()),
            joule::tensor_view<float>(shared.data() + 4, x.shape()), p.cview(), p.cview(), p.cview(), p.cview());
      },
      "y overlaps x");
  expect_error(
      [&] {
        run(joule::tensor_view<const float>(shared.data(), x.shape()),
            joule::tensor_view<float>(shared.data(), x.shape()), p.cview(), p.cview(),
            joule::tensor_view<const float>(shared.data() + 20, shape{3}), p.cview());
      },
      "y overlaps gamma");
  expect_error(
      [&] {
        run(joule::tensor_view<const float>(nullptr, x.shape()), y.view(), p.cview(), p.cview(), p.cview(), p.cview());
      },
      "null data pointer");
}

}  // namespace
