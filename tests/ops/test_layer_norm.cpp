// Conformance of ops::layer_norm (over the last axis, optional fused residual) on every CPU policy
// against the double-precision reference in tests/reference/layer_norm.hpp.
//
// Error bound (per element; u = 2^-24, n = cols; z = x + residual exactly, mu, var its row's mean
// and biased variance, sigma = sqrt(var), A = mean |z| the row's magnitude, r = 1/sqrt(var + eps),
// d_j = z_j - mu). The kernels round z_j once (with a residual), sum the row for the mean, sum the
// squared centred values for the variance (two passes, in float, in any order), then
// y_j = (z_j - mean) · r · gamma_j + beta_j. First-order error propagation gives:
//   mean:         e_mu  = gamma(n + 2) · A                 (sum of n terms, z rounding, division)
//   centred z_j:  e_j   = u|z_j| [with residual] + u|d_j| + e_mu
//   variance:     e_var = gamma(n + 2) (var + 2 sigma e + e^2) + 2 sigma e + e^2,  e = rms_j e_j
//                 (the squares' sum; and (1/n) sum (d_j + e_j)^2 - var <= 2 sigma e + e^2 by
//                 Cauchy-Schwarz, since sum d_j = 0)
//   r:            rel_r = (e_var + u (var + eps)) / (2 (var + eps)) + 2u   (sqrt halves, 1/sqrt rounds twice)
//   y_j:          |gamma_j| r (e_j + |d_j| (rel_r + 2u)) + u |y_j|         (two products, one add)
// The bound is that sum times 1.1, for the second-order terms (relative size <= n u < 2e-4 here),
// plus 1e-37 against underflow. Note how it scales: the mean's error is relative to the row's
// magnitude A, so a row with |mean| >> sigma is held to a looser bound, as any float kernel must
// be; the two-pass form avoids E[z^2] - E[z]^2, whose cancellation would cost a further A^2/var.
//
// Bad input tested (message fragment): gamma, beta, residual or y of the wrong shape ("gamma must
// have shape", "beta must have shape", "residual must have shape", "y must have shape"), a rank-0
// x ("x must have rank >= 1"), a negative eps ("eps must be >= 0"), a null data pointer ("null
// data pointer"), a misaligned float pointer ("not aligned"), y partly overlapping x ("y overlaps
// x"). Edge cases: ranks 1 to 3, row lengths not multiples of the vector width, one column (y =
// beta), no rows, in place (y is x, or y is the residual), rows with a large mean, eps 1e-12
// (BERT's) and 1e-5, BERT-base's [1, 128, 768] with residual, several thread counts; a NaN makes
// its row NaN and no other row.
#include <limits>

#include <joule/ops/layer_norm.hpp>

#include "../common/testing.hpp"
#include "../reference/layer_norm.hpp"

namespace {

using joule_test::expect_error;

using joule::shape;
using joule::tensor;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

template <class P>
class layer_norm_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

  enum class alias { none, x, residual };

  /** layer_norm of @p x (+ @p residual when given) with random gamma, beta; checked against the reference. */
  void check(joule::context<P>& ctx, std::mt19937_64& rng, const tensor<float>& x, const tensor<float>* residual,
             float eps, alias in_place = alias::none) {
    const std::int64_t cols = x.dim(-1), rows = cols ? x.numel() / cols : 0;
    auto gamma = joule_test::random_tensor(rng, shape{cols}, 0.5f, 1.5f);
    auto beta = joule_test::random_tensor(rng, shape{cols}, -0.5f, 0.5f);
    tensor<float> y(x.shape());
    joule::tensor_view<const float> x_view = x.cview(),
                                    r_view = residual ? residual->cview() : joule::tensor_view<const float>{};
    if (in_place == alias::x) {
      std::copy_n(x.data(), x.numel(), y.data());
      x_view = y.cview();
    } else if (in_place == alias::residual) {
      std::copy_n(residual->data(), residual->numel(), y.data());
      r_view = y.cview();
    } else {
      std::fill_n(y.data(), y.numel(), kNaN);  // must not be read
    }
    joule::ops::layer_norm(ctx, x_view, gamma.cview(), beta.cview(), y.view(), eps, r_view);
    const auto ref = joule_ref::layer_norm(x.data(), residual ? residual->data() : nullptr, gamma.data(), beta.data(),
                                           rows, cols, eps);
    std::ostringstream what;
    what << P::name() << " layer_norm " << x.shape() << " residual=" << (residual != nullptr) << " eps=" << eps
         << " in_place=" << int(in_place) << " threads=" << ctx.threads();
    joule_test::expect_within(y.span(), ref.value, ref.bound, what.str());
  }
};
TYPED_TEST_SUITE(layer_norm_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

TYPED_TEST(layer_norm_conformance, random_shapes) {
  auto rng = joule_test::rng_for_test();
  using alias = typename TestFixture::alias;
  for (int threads : {1, 2, 3}) {
    joule::context<TypeParam> ctx(threads);
    for (int draw = 0; draw < 16; ++draw) {
      const auto rank = joule_test::uniform_int(rng, 1, 3);
      std::vector<std::int64_t> dims(rank);
      for (auto& d : dims) d = joule_test::uniform_int(rng, 1, 9);
      dims.back() = joule_test::uniform_int(rng, 1, 400);
      const shape s{std::span<const std::int64_t>(dims)};
      const float offset = static_cast<float>(joule_test::uniform_int(rng, -4, 4));  // a non-zero row mean
      auto x = joule_test::random_tensor(rng, s, offset - 1.f, offset + 1.f);
      auto residual = joule_test::random_tensor(rng, s);
      const bool with_residual = draw % 2 == 0;
      const alias in_place = draw % 4 == 1 ? alias::x : draw % 4 == 2 ? alias::residual : alias::none;
      this->check(ctx, rng, x, with_residual || in_place == alias::residual ? &residual : nullptr,
                  draw % 3 ? 1e-5f : 1e-12f, in_place);
    }
  }
}

TYPED_TEST(layer_norm_conformance, degenerate_sizes_and_large_means) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, rng, joule_test::random_tensor(rng, shape{1}), nullptr, 1e-5f);
  this->check(ctx, rng, joule_test::random_tensor(rng, shape{6, 1}), nullptr, 1e-5f);  // y = beta
  this->check(ctx, rng, joule_test::random_tensor(rng, shape{0, 768}), nullptr, 1e-5f);
  auto residual = joule_test::random_tensor(rng, shape{5, 300});
  this->check(ctx, rng, joule_test::random_tensor(rng, shape{5, 300}, 999.f, 1001.f), &residual, 1e-5f);
  this->check(ctx, rng, joule_test::random_tensor(rng, shape{3, 17}, -1e-3f, 1e-3f), nullptr, 1e-5f);  // eps dominates
}

TYPED_TEST(layer_norm_conformance, bert_base_shapes) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  auto x = joule_test::random_tensor(rng, shape{1, 128, 768}, -2.f, 2.f);
  auto residual = joule_test::random_tensor(rng, shape{1, 128, 768}, -2.f, 2.f);
  this->check(ctx, rng, x, &residual, 1e-12f);
  this->check(ctx, rng, x, &residual, 1e-12f, TestFixture::alias::x);
  this->check(ctx, rng, x, nullptr, 1e-12f);
}

TYPED_TEST(layer_norm_conformance, nan_poisons_its_row_only) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  auto x = joule_test::random_tensor(rng, shape{6, 41});
  auto residual = joule_test::random_tensor(rng, shape{6, 41});
  x[2 * 41 + 7] = kNaN;
  residual[4 * 41 + 40] = kNaN;  // in the vector tail
  tensor<float> y(x.shape()), gamma(shape{41}), beta(shape{41});
  std::fill_n(gamma.data(), 41, 1.f);
  joule::ops::layer_norm(ctx, x.cview(), gamma.cview(), beta.cview(), y.view(), 1e-5f, residual.cview());
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    const std::int64_t row = i / 41;
    EXPECT_EQ(std::isnan(y[i]), row == 2 || row == 4) << TypeParam::name() << " element " << i;
  }
  this->check(ctx, rng, x, &residual, 1e-5f);
}

TYPED_TEST(layer_norm_conformance, bad_input_is_a_clear_error) {
  joule::context<TypeParam> ctx(1);
  tensor<float> x(shape{4, 6}), y(shape{4, 6}), g(shape{6}), b(shape{6}), g_bad(shape{5}), r_bad(shape{6, 4});
  using joule::ops::layer_norm;
  expect_error([&] { layer_norm(ctx, x.cview(), g_bad.cview(), b.cview(), y.view()); },
               "layer_norm: gamma must have shape [6], got [5]");
  expect_error([&] { layer_norm(ctx, x.cview(), g.cview(), g_bad.cview(), y.view()); },
               "layer_norm: beta must have shape [6], got [5]");
  expect_error([&] { layer_norm(ctx, x.cview(), g.cview(), b.cview(), y.view(), 1e-5f, r_bad.cview()); },
               "layer_norm: residual must have shape [4, 6], got [6, 4]");
  tensor<float> y_bad(shape{24});
  expect_error([&] { layer_norm(ctx, x.cview(), g.cview(), b.cview(), y_bad.view()); },
               "layer_norm: y must have shape [4, 6], got [24]");
  tensor<float> scalar_x(shape{});
  expect_error([&] { layer_norm(ctx, scalar_x.cview(), g.cview(), b.cview(), scalar_x.view()); },
               "layer_norm: x must have rank >= 1");
  expect_error([&] { layer_norm(ctx, x.cview(), g.cview(), b.cview(), y.view(), -1.f); },
               "layer_norm: eps must be >= 0");
  expect_error(
      [&] { layer_norm(ctx, x.cview(), joule::tensor_view<const float>(nullptr, shape{6}), b.cview(), y.view()); },
      "layer_norm: gamma has shape [6] but a null data pointer");
  std::vector<char> raw(64 * sizeof(float));
  const auto* misaligned = reinterpret_cast<const float*>(raw.data() + 1);
  expect_error(
      [&] {
        layer_norm(ctx, joule::tensor_view<const float>(misaligned, shape{4, 6}), g.cview(), b.cview(), y.view());
      },
      "layer_norm: x data pointer is not aligned");
  tensor<float> big(shape{48});
  expect_error(
      [&] {
        layer_norm(ctx, joule::tensor_view<const float>(big.data(), shape{4, 6}), g.cview(), b.cview(),
                   joule::tensor_view<float>(big.data() + 6, shape{4, 6}));
      },
      "layer_norm: y overlaps x");
}

}  // namespace
