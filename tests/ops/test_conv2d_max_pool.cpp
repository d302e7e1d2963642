// Conformance of ops::conv2d_max_pool (a convolution with its bias and activation, then max
// pooling) on every CPU policy that runs it (conv2d_fuses_max_pool), against the double-precision
// reference in tests/reference/conv2d.hpp.
//
// Error bound (per pooled output): the largest over its window of conv2d's bound for each
// convolution output (test_conv2d.cpp: 1.2 · gamma(K + 3) · M + 8u · (|ref| + M)), since a maximum
// moves no further than the furthest of its terms. A NaN input makes exactly the pooled outputs
// whose window holds a NaN convolution output NaN.
//
// Shapes: ResNet-50's stem and pool (7x7/2 on 224 x 224, 3x3/2 padding 1) at 1 and 2 images;
// 1 to 4 input channels, 16 to 128 output channels (16: not a whole register tile, the unfused
// path), kernels 1 to 7, strides 1 and 2, padding, dilation 2; pools 3x3/2 padding 1, 2x2/2, 3x3/1
// padding 1, 1x3 with strides (3, 1) (convolution rows the pool never reads), and 2x2 stride 3;
// 1 to 3 images over 1 to 3 threads (a thread's pooled rows running on into the next image);
// bias or none, every activation.
//
// Bad input tested (message fragment): a residual ("takes no residual"), average pooling ("must
// be max"), an output of the wrong shape ("output must have shape"), conv2d's own checks ("channel
// mismatch") and pool2d's ("kernel size must be positive").
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <joule/ops/conv2d_max_pool.hpp>

#include "../common/testing.hpp"
#include "../reference/conv2d.hpp"
#include "conv2d_cases.hpp"

namespace {

using joule::activation;
using joule::shape;
using joule::tensor;
using joule_test::expect_error;
using joule_test::gamma;
using joule_test::kUnitRoundoff;

/** @brief One case: the convolution's input, weight and geometry, then the pooling's. */
struct fused_case {
  shape input, weight;
  joule::ops::conv2d_params conv;
  joule::ops::pool2d_params pool;
  bool bias = true;
  activation act = activation::relu;
};

template <class P>
class conv2d_max_pool_conformance : public ::testing::Test {
 protected:
  void SetUp() override {
    JOULE_SKIP_IF_UNAVAILABLE(P);
    if constexpr (!joule::conv2d_fuses_max_pool<P>) GTEST_SKIP() << "runs ops::conv2d and ops::pool2d instead";
  }

 public:
  /** Runs @p c on @p ctx with random data (a NaN at input element @p nan_index when >= 0) and checks it. */
  void check(joule::context<P>& ctx, const fused_case& c, std::mt19937_64& rng, std::int64_t nan_index = -1) {
    if constexpr (joule::conv2d_fuses_max_pool<P>) {
      const shape conv_shape = joule::ops::conv2d_output_shape(c.input, c.weight, c.conv);
      const shape out_shape = joule::ops::pool2d_output_shape(conv_shape, c.pool);
      auto input = joule_test::random_tensor(rng, c.input);
      auto weight = joule_test::random_tensor(rng, c.weight);
      auto bias = joule_test::random_tensor(rng, shape{c.weight[0]});
      if (nan_index >= 0) input[nan_index] = std::numeric_limits<float>::quiet_NaN();
      tensor<float> output(out_shape);
      for (auto& v : output.span()) v = std::numeric_limits<float>::quiet_NaN();  // must be written
      joule::ops::conv2d_epilogue ep{.act = c.act};
      if (c.bias) ep.bias = bias.cview();
      const std::string speeds = joule_test::set_uneven_speeds(ctx, calls_++);  // any ranges must do
      joule::ops::conv2d_max_pool(ctx, input.cview(), weight.cview(), output.view(), c.conv, ep, c.pool);

      const auto problem = joule_test::problem_of(c.input, c.weight, c.conv);
      const std::int64_t depth = c.weight[1] * c.weight[2] * c.weight[3];
      const std::int64_t ph = out_shape[2], pw = out_shape[3], ch = conv_shape[2], cw = conv_shape[3];
      std::vector<double> want, bound;
      for (std::int64_t i = 0; i < output.numel(); ++i) {
        const std::int64_t px = i % pw, py = i / pw % ph, plane = i / (pw * ph);
        double best = -std::numeric_limits<double>::infinity(), worst_bound = 0;
        bool nan = false;
        for (std::int64_t ky = 0; ky < c.pool.kh; ++ky)
          for (std::int64_t kx = 0; kx < c.pool.kw; ++kx) {
            const std::int64_t y = py * c.pool.stride_h - c.pool.pad_h + ky;
            const std::int64_t x = px * c.pool.stride_w - c.pool.pad_w + kx;
            if (y < 0 || y >= ch || x < 0 || x >= cw) continue;
            const auto e = joule_ref::conv2d_at(problem, input.data(), weight.data(), c.bias ? bias.data() : nullptr,
                                                nullptr, c.act, (plane * ch + y) * cw + x);
            nan = nan || std::isnan(e.value);
            best = std::max(best, e.value);
            worst_bound = std::max(worst_bound, 1.2 * gamma(depth + 3) * e.magnitude +
                                                    8 * kUnitRoundoff * (std::abs(e.value) + e.magnitude) + 1e-37);
          }
        want.push_back(nan ? std::numeric_limits<double>::quiet_NaN() : best);
        bound.push_back(worst_bound);
      }
      const std::string what = std::string(P::name()) + " input " + c.input.to_string() + " weight " +
                               c.weight.to_string() + " stride " + std::to_string(c.conv.stride_h) + " pool " +
                               std::to_string(c.pool.kh) + "x" + std::to_string(c.pool.kw) + "/" +
                               std::to_string(c.pool.stride_h) + "," + std::to_string(c.pool.stride_w) + " pad " +
                               std::to_string(c.pool.pad_h) + " threads=" + std::to_string(ctx.threads()) + speeds;
      joule_test::expect_within(output.span(), want, bound, what);
    }
  }

 private:
  int calls_ = 0;
};
TYPED_TEST_SUITE(conv2d_max_pool_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

constexpr joule::ops::pool2d_params max_pool(std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw,
                                             std::int64_t pad_h, std::int64_t pad_w) {
  return {.kind = joule::pool_kind::max,
          .kh = kh,
          .kw = kw,
          .stride_h = sh,
          .stride_w = sw,
          .pad_h = pad_h,
          .pad_w = pad_w};
}

TYPED_TEST(conv2d_max_pool_conformance, resnet50_stem_and_pool) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  for (std::int64_t n : {1, 2})
    this->check(ctx,
                {shape{n, 3, 224, 224}, shape{64, 3, 7, 7}, joule_test::stride_pad(2, 3), max_pool(3, 3, 2, 2, 1, 1)},
                rng);
}

TYPED_TEST(conv2d_max_pool_conformance, shapes_pools_and_threads) {
  auto rng = joule_test::rng_for_test();
  const activation acts[] = {activation::none, activation::relu, activation::relu6, activation::gelu_erf};
  const joule::ops::pool2d_params pools[] = {max_pool(3, 3, 2, 2, 1, 1), max_pool(2, 2, 2, 2, 0, 0),
                                             max_pool(3, 3, 1, 1, 1, 1), max_pool(1, 3, 3, 1, 0, 1),
                                             max_pool(2, 2, 3, 3, 0, 0)};
  int i = 0;
  for (int threads : {1, 2, 3}) {
    joule::context<TypeParam> ctx(threads);
    for (std::int64_t c_in : {1, 3, 4})
      for (std::int64_t c_out : {16, 32, 64, 128})
        for (const auto& [k, stride, pad, dil] :
             {std::array<std::int64_t, 4>{7, 2, 3, 1}, {3, 2, 1, 1}, {1, 1, 0, 1}, {3, 1, 1, 2}, {5, 1, 0, 1}}) {
          const std::int64_t n = 1 + i % 3, h = 8 + i % 7, w = (18 + i % 19) * stride + i % 2;
          const fused_case c{shape{n, c_in, h, w},
                             shape{c_out, c_in, k, k},
                             {.stride_h = stride,
                              .stride_w = stride,
                              .pad_h = std::min(pad, (k - 1) * dil),
                              .pad_w = std::min(pad, (k - 1) * dil),
                              .dil_h = dil,
                              .dil_w = dil},
                             pools[i % 5],
                             i % 3 != 0,
                             acts[i % 4]};
          ++i;
          this->check(ctx, c, rng);
        }
  }
}

TYPED_TEST(conv2d_max_pool_conformance, nan_reaches_its_windows_only) {
  // A NaN input pixel: the convolution outputs whose window holds it are NaN, and so are exactly
  // the pooled outputs whose window holds one of those (before an activation; relu keeps NaN).
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  const shape input{1, 3, 20, 40};
  for (std::int64_t nan_index : {0, 3 * 20 * 40 - 1, 1 * 20 * 40 + 9 * 40 + 17})
    this->check(
        ctx,
        {input, shape{64, 3, 3, 3}, joule_test::stride_pad(2, 1), max_pool(3, 3, 2, 2, 1, 1), true, activation::none},
        rng, nan_index);
}

TYPED_TEST(conv2d_max_pool_conformance, bad_input) {
  if constexpr (joule::conv2d_fuses_max_pool<TypeParam>) {
    joule::context<TypeParam> ctx(1);
    tensor<float> input(shape{1, 3, 16, 16}), weight(shape{32, 3, 3, 3}), residual(shape{1, 32, 16, 16});
    tensor<float> output(shape{1, 32, 8, 8});
    const auto conv = joule_test::stride_pad(1, 1);
    const auto pool = max_pool(2, 2, 2, 2, 0, 0);
    expect_error(
        [&] {
          joule::ops::conv2d_max_pool(ctx, input.cview(), weight.cview(), output.view(), conv,
                                      {.residual = residual.cview()}, pool);
        },
        "takes no residual");
    expect_error(
        [&] {
          auto average = pool;
          average.kind = joule::pool_kind::average;
          joule::ops::conv2d_max_pool(ctx, input.cview(), weight.cview(), output.view(), conv, {}, average);
        },
        "must be max");
    expect_error(
        [&] {
          tensor<float> wrong(shape{1, 32, 16, 16});
          joule::ops::conv2d_max_pool(ctx, input.cview(), weight.cview(), wrong.view(), conv, {}, pool);
        },
        "output must have shape [1, 32, 8, 8]");
    expect_error(
        [&] {
          tensor<float> other(shape{32, 4, 3, 3});
          joule::ops::conv2d_max_pool(ctx, input.cview(), other.cview(), output.view(), conv, {}, pool);
        },
        "channel mismatch");
    expect_error(
        [&] {
          joule::ops::conv2d_max_pool(ctx, input.cview(), weight.cview(), output.view(), conv, {},
                                      max_pool(0, 2, 2, 2, 0, 0));
        },
        "kernel size must be positive");
  }
}

}  // namespace
