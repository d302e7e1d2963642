// Conformance of ops::pool2d and ops::global_avg_pool on every CPU policy against the double-precision
// reference in tests/reference/pool2d.hpp.
//
// Error bounds (per output): a max is exact, bound 0: the result is one of the inputs, bit for bit.
// An average of a window's n = kh · kw positions is a float sum of at most n terms, then one division
// by the divisor (an integer, exact in float), or a multiplication by a rounded reciprocal: at most
// n + 2 roundings, hence gamma(kh · kw + 2) · sum |x| / divisor. global_avg_pool is the same with
// n = h · w: gamma(h · w + 2) · sum |x| / (h · w).
//
// Shapes: random max and average pools (count_include_pad true and false) with square and non-square
// kernels 1 to 7, strides 1 to 3, every legal padding (0 to k / 2), planes of 1 x 1 to ~19 x 57 (widths
// not multiples of the vector width), batch 1 to 3; ResNet-50's 3x3/2 max pool on [1, 64, 112, 112];
// global average pools of ResNet-50 ([1, 2048, 7, 7]) and MobileNetV2 ([1, 1280, 7, 7]) and random ones;
// an empty batch (a no-op). Padding must never win a max: an all-negative input with padding must
// not produce 0. NaN: one NaN input makes exactly the windows holding it NaN (max and average), and
// its plane's global average.
//
// Bad input tested (message fragment): input of the wrong rank ("input must have rank 4"), an empty
// plane ("has an empty plane"), kernel <= 0 ("kernel size must be positive"), stride <= 0 ("negative
// or zero strides"), negative padding ("negative padding"), padding over half the kernel ("at most half
// the kernel size"), a window larger than the padded input ("output would be empty"), output of the
// wrong shape ("output must have shape [1, 2, 4, 4]", global: "output must have shape [2, 3]"), a
// null pointer ("null data pointer"), output overlapping the input ("output overlaps input").
#include <algorithm>
#include <limits>

#include <joule/ops/pool2d.hpp>

#include "../common/testing.hpp"
#include "../reference/pool2d.hpp"
#include "pool2d_cases.hpp"

namespace {

using joule_test::expect_error;

using joule::pool_kind;
using joule::shape;
using joule::tensor;
using joule::ops::pool2d_params;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::string describe(const shape& input, const pool2d_params& p) {
  std::ostringstream out;
  out << (p.kind == pool_kind::max ? "max" : "average") << " pool input " << input << " kernel (" << p.kh << ", "
      << p.kw << ") stride (" << p.stride_h << ", " << p.stride_w << ") pad (" << p.pad_h << ", " << p.pad_w
      << ") count_include_pad=" << p.count_include_pad;
  return out.str();
}

template <class P>
class pool2d_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

  /** Pools @p input on policy P and checks every output against the reference. */
  void check(joule::context<P>& ctx, const tensor<float>& input, const pool2d_params& p) {
    const shape out_shape = joule::ops::pool2d_output_shape(input.shape(), p);
    tensor<float> output(out_shape);
    for (auto& v : output.span()) v = kNaN;  // kernels must write, not read, the output
    joule::ops::pool2d(ctx, input.cview(), output.view(), p);
    const auto expected = joule_test::pool2d_expected(input.shape(), p, input.data());
    joule_test::expect_within(
        output.span(), expected.want, expected.bound,
        std::string(P::name()) + " " + describe(input.shape(), p) + " threads=" + std::to_string(ctx.threads()));
  }

  void check_global(joule::context<P>& ctx, const tensor<float>& input) {
    tensor<float> output(shape{input.dim(0), input.dim(1)});
    for (auto& v : output.span()) v = kNaN;
    joule::ops::global_avg_pool(ctx, input.cview(), output.view());
    const auto expected = joule_test::global_avg_pool_expected(input.shape(), input.data());
    std::ostringstream what;
    what << P::name() << " global_avg_pool input " << input.shape() << " threads=" << ctx.threads();
    joule_test::expect_within(output.span(), expected.want, expected.bound, what.str());
  }
};
TYPED_TEST_SUITE(pool2d_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

pool2d_params random_params(std::mt19937_64& rng) {
  pool2d_params p;
  p.kind = rng() % 2 ? pool_kind::max : pool_kind::average;
  p.kh = joule_test::uniform_int(rng, 1, 7);
  p.kw = rng() % 3 == 0 ? joule_test::uniform_int(rng, 1, 7) : p.kh;
  p.stride_h = joule_test::uniform_int(rng, 1, 3);
  p.stride_w = joule_test::uniform_int(rng, 1, 3);
  p.pad_h = joule_test::uniform_int(rng, 0, p.kh / 2);
  p.pad_w = joule_test::uniform_int(rng, 0, p.kw / 2);
  p.count_include_pad = rng() % 2 == 0;
  return p;
}

TYPED_TEST(pool2d_conformance, random_shapes) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  for (int draw = 0; draw < 40; ++draw) {
    const pool2d_params p = random_params(rng);
    const std::int64_t h = std::max<std::int64_t>(1, p.kh - 2 * p.pad_h) + joule_test::uniform_int(rng, 0, 12);
    const std::int64_t w = std::max<std::int64_t>(1, p.kw - 2 * p.pad_w) + joule_test::uniform_int(rng, 0, 50);
    const auto input = joule_test::random_tensor(
        rng, shape{joule_test::uniform_int(rng, 1, 3), joule_test::uniform_int(rng, 1, 6), h, w});
    this->check(ctx, input, p);
  }
}

TYPED_TEST(pool2d_conformance, model_shapes) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  // ResNet-50's stem max pool, then the global average pools of ResNet-50 and MobileNetV2.
  this->check(ctx, joule_test::random_tensor(rng, shape{1, 64, 112, 112}),
              {.kind = pool_kind::max, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1});
  this->check(ctx, joule_test::random_tensor(rng, shape{2, 8, 28, 28}),
              {.kind = pool_kind::average, .kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2});
  this->check_global(ctx, joule_test::random_tensor(rng, shape{1, 2048, 7, 7}));
  this->check_global(ctx, joule_test::random_tensor(rng, shape{1, 1280, 7, 7}));
  for (int draw = 0; draw < 10; ++draw)
    this->check_global(ctx, joule_test::random_tensor(
                                rng, shape{joule_test::uniform_int(rng, 1, 3), joule_test::uniform_int(rng, 1, 20),
                                           joule_test::uniform_int(rng, 1, 20), joule_test::uniform_int(rng, 1, 20)}));
}

TYPED_TEST(pool2d_conformance, padding_never_wins_a_max) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(1);
  const auto negative = joule_test::random_tensor(rng, shape{2, 3, 9, 21}, -2.f, -1.f);
  this->check(ctx, negative,
              {.kind = pool_kind::max, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1});
  this->check(ctx, negative,
              {.kind = pool_kind::max, .kh = 4, .kw = 5, .stride_h = 1, .stride_w = 3, .pad_h = 2, .pad_w = 2});
  this->check(ctx, negative,
              {.kind = pool_kind::average, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1, .count_include_pad = false});
}

TYPED_TEST(pool2d_conformance, size_one_and_empty_batch) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(1);
  this->check(ctx, joule_test::random_tensor(rng, shape{1, 1, 1, 1}), {.kind = pool_kind::max});
  this->check(ctx, joule_test::random_tensor(rng, shape{1, 1, 1, 1}),
              {.kind = pool_kind::average, .kh = 2, .kw = 3, .pad_h = 1, .pad_w = 1});
  this->check(ctx, joule_test::random_tensor(rng, shape{1, 2, 5, 5}), {.kind = pool_kind::max, .kh = 5, .kw = 5});
  this->check_global(ctx, joule_test::random_tensor(rng, shape{1, 1, 1, 1}));
  tensor<float> empty(shape{0, 3, 8, 8}), empty_out(shape{0, 3, 4, 4}), empty_global(shape{0, 3});
  EXPECT_NO_THROW(
      joule::ops::pool2d(ctx, empty.cview(), empty_out.view(), {.kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2}));
  EXPECT_NO_THROW(joule::ops::global_avg_pool(ctx, empty.cview(), empty_global.view()));
  EXPECT_NO_THROW(joule::ops::global_avg_pool(ctx, joule::tensor_view<const float>(nullptr, shape{0, 3, 8, 8}),
                                              joule::tensor_view<float>(nullptr, shape{0, 3})));
}

TYPED_TEST(pool2d_conformance, nan_stays_in_its_windows) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  for (const pool_kind kind : {pool_kind::max, pool_kind::average}) {
    for (const std::int64_t at : {std::int64_t{0}, std::int64_t{9 * 40 + 17}, std::int64_t{2 * 9 * 40 - 1}}) {
      auto input = joule_test::random_tensor(rng, shape{1, 2, 9, 40});
      input[at] = kNaN;
      this->check(ctx, input, {.kind = kind, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1});
      this->check(ctx, input, {.kind = kind, .kh = 2, .kw = 3, .stride_h = 1, .stride_w = 1});
      this->check_global(ctx, input);
    }
  }
}

// The simd policy reads a 3x3 stride-2 max pool in place, a row buffer padded with -inf
// (max_pool_3x3_stride2.hpp): every plane width around its vectors' edges, either padding, odd and
// even heights, and a NaN that must stay in its windows wherever it falls.
TYPED_TEST(pool2d_conformance, max_3x3_stride_2_every_edge) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  for (const std::int64_t pad : {0, 1})
    for (const std::int64_t h : {3, 4, 7, 8})
      for (const std::int64_t w : {3, 4, 5, 15, 16, 17, 18, 31, 32, 33, 34, 35, 47, 64, 65}) {
        auto input = joule_test::random_tensor(rng, shape{1, 3, h, w});
        input[joule_test::uniform_int(rng, 0, input.numel() - 1)] = kNaN;
        this->check(
            ctx, input,
            {.kind = pool_kind::max, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = pad, .pad_w = pad});
      }
}

TYPED_TEST(pool2d_conformance, bad_input_is_a_clear_error) {
  joule::context<TypeParam> ctx(1);
  tensor<float> x(shape{1, 2, 8, 8}), y(shape{1, 2, 4, 4});
  const pool2d_params ok{.kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2};
  const auto run = [&](const pool2d_params& p) { joule::ops::pool2d(ctx, x.cview(), y.view(), p); };
  tensor<float> rank3(shape{2, 8, 8});
  expect_error([&] { joule::ops::pool2d(ctx, rank3.cview(), y.view(), ok); }, "input must have rank 4");
  tensor<float> flat(shape{1, 2, 0, 8});
  expect_error([&] { joule::ops::pool2d(ctx, flat.cview(), y.view(), ok); }, "has an empty plane");
  expect_error([&] { run({.kh = 0, .kw = 2}); }, "kernel size must be positive");
  expect_error([&] { run({.kh = 2, .kw = -1}); }, "kernel size must be positive");
  expect_error([&] { run({.kh = 2, .kw = 2, .stride_h = 0}); }, "negative or zero strides");
  expect_error([&] { run({.kh = 2, .kw = 2, .stride_w = -2}); }, "negative or zero strides");
  expect_error([&] { run({.kh = 2, .kw = 2, .pad_h = -1}); }, "negative padding");
  expect_error([&] { run({.kh = 3, .kw = 3, .pad_h = 2}); }, "at most half the kernel size");
  expect_error([&] { run({.kh = 1, .kw = 1, .pad_w = 1}); }, "at most half the kernel size");
  tensor<float> small(shape{1, 1, 2, 2}), y1(shape{1, 1, 1, 1});
  expect_error([&] { joule::ops::pool2d(ctx, small.cview(), y1.view(), {.kh = 5, .kw = 5, .pad_h = 1, .pad_w = 1}); },
               "output would be empty");
  expect_error([&] { run({.kh = 3, .kw = 3}); }, "output must have shape [1, 2, 6, 6]");
  tensor<float> y_bad(shape{1, 2, 4, 5});
  expect_error([&] { joule::ops::pool2d(ctx, x.cview(), y_bad.view(), ok); }, "output must have shape [1, 2, 4, 4]");
  expect_error([&] { joule::ops::pool2d(ctx, joule::tensor_view<const float>(nullptr, x.shape()), y.view(), ok); },
               "null data pointer");
  tensor<float> shared(shape{256});
  expect_error(
      [&] {
        joule::ops::pool2d(ctx, joule::tensor_view<const float>(shared.data(), x.shape()),
                           joule::tensor_view<float>(shared.data() + 64, y.shape()), ok);
      },
      "output overlaps input");

  tensor<float> g_in(shape{2, 3, 4, 4}), g_out(shape{2, 3}), g_bad(shape{2, 3, 1, 1});
  expect_error([&] { joule::ops::global_avg_pool(ctx, rank3.cview(), g_out.view()); }, "input must have rank 4");
  expect_error([&] { joule::ops::global_avg_pool(ctx, g_in.cview(), g_bad.view()); }, "output must have shape [2, 3]");
  tensor<float> g_flat(shape{2, 3, 4, 0});
  expect_error([&] { joule::ops::global_avg_pool(ctx, g_flat.cview(), g_out.view()); }, "has an empty plane");
  expect_error(
      [&] {
        joule::ops::global_avg_pool(ctx, joule::tensor_view<const float>(shared.data(), g_in.shape()),
                                    joule::tensor_view<float>(shared.data() + 10, g_out.shape()));
      },
      "output overlaps input");
}

}  // namespace
