// Conformance of ops::depthwise_conv2d_channels_last on every CPU policy against the
// double-precision reference in tests/reference/conv2d.hpp (the same convolution in NCHW with
// groups = channels, the data moved channels-last around it).
//
// Error bound (per output): gamma(K + 2) · M, u = 2^-24, K = kernel², M = sum |w · x| over the
// window + |bias|: a dot product of K terms plus the bias in any float32 order (Higham's worst
// case); none, relu and relu6 are exact afterwards. Every output is checked; the output is filled
// with NaN before the call, so a kernel that skips an output fails.
//
// Shapes: random draws of 3x3 kernels (simd's own kernel) and 1x1 / 5x5 ones (its fallback), strides 1
// and 2, padding 0 to kernel - 1, batch 1 to 2, planes 1 to 16 pixels a side, 1 to 80 channels
// (not multiples of the vector width: the simd kernel's one-vector and partial-vector blocks),
// with and without bias, under none / relu / relu6; MobileNetV2's 14 x 14 x 288 and 14 x 14 -> 7 x 7
// x 288 (stride 2) and 7 x 7 x 480, on 1 and 2 threads. NaN: one NaN input pixel of one channel
// makes exactly the outputs of that channel whose window holds it NaN.
//
// Bad input tested (message fragment): input of the wrong rank ("input must have rank 4"), weight
// not [k, k, c] ("weight must be [k, k, 5]"), stride 0 or padding >= kernel ("must have kernel >= 1"),
// a kernel larger than the padded input ("smaller than the kernel"), output of the wrong shape
// ("output must have shape"), bias not [c] ("bias must have shape"), output overlapping the input
// ("output overlaps input").
#include <cmath>
#include <limits>
#include <vector>

#include <joule/ops/depthwise_channels_last.hpp>

#include "../common/testing.hpp"
#include "../reference/conv2d.hpp"

namespace {

using joule::activation;
using joule::shape;
using joule::tensor;
using joule_test::expect_error;
using joule_test::gamma;

struct dw_case {
  std::int64_t n, h, w, channels, kernel, stride, pad;
  bool bias;
  activation act;
};

template <class P>
class depthwise_channels_last_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

  /** Runs @p c on @p threads threads and checks every output against the reference. */
  static void check(const dw_case& c, int threads, std::mt19937_64& rng, std::int64_t nan_at = -1) {
    SCOPED_TRACE(::testing::Message() << "n " << c.n << " " << c.h << "x" << c.w << " channels " << c.channels
                                      << " kernel " << c.kernel << " stride " << c.stride << " pad " << c.pad
                                      << " bias " << c.bias << " threads " << threads);
    const std::int64_t k = c.kernel, ch = c.channels;
    tensor<float> in = joule_test::random_tensor(rng, shape{c.n, c.h, c.w, ch});
    if (nan_at >= 0) in.data()[nan_at] = std::numeric_limits<float>::quiet_NaN();
    const tensor<float> weight = joule_test::random_tensor(rng, shape{k, k, ch});
    const tensor<float> bias = joule_test::random_tensor(rng, shape{ch});
    const shape out_shape = joule::ops::depthwise_channels_last_shape(in.shape(), k, c.stride, c.pad);
    tensor<float> out(out_shape);
    for (auto& v : out.span()) v = std::numeric_limits<float>::quiet_NaN();
    joule::context<P> ctx(threads);
    joule::ops::depthwise_conv2d_channels_last(ctx, in.cview(), weight.cview(), out.view(), c.stride, c.pad,
                                               c.bias ? bias.cview() : joule::tensor_view<const float>{}, c.act);
    // The reference's NCHW input and OIHW weight.
    std::vector<float> in_nchw(static_cast<std::size_t>(in.numel())), w_oihw(static_cast<std::size_t>(weight.numel()));
    for (std::int64_t b = 0; b < c.n; ++b)
      for (std::int64_t y = 0; y < c.h; ++y)
        for (std::int64_t x = 0; x < c.w; ++x)
          for (std::int64_t i = 0; i < ch; ++i)
            in_nchw[static_cast<std::size_t>(((b * ch + i) * c.h + y) * c.w + x)] =
                in.data()[((b * c.h + y) * c.w + x) * ch + i];
    for (std::int64_t t = 0; t < k * k; ++t)
      for (std::int64_t i = 0; i < ch; ++i) w_oihw[static_cast<std::size_t>(i * k * k + t)] = weight.data()[t * ch + i];
    const joule_ref::conv2d_problem p{c.n,   ch, c.h, c.w, ch,           k,           k, c.stride, c.stride, c.pad,
                                      c.pad, 1,  1,   ch,  out_shape[1], out_shape[2]};
    std::vector<double> want, bound;
    std::vector<float> got;
    for (std::int64_t b = 0; b < c.n; ++b)
      for (std::int64_t y = 0; y < p.out_h; ++y)
        for (std::int64_t x = 0; x < p.out_w; ++x)
          for (std::int64_t i = 0; i < ch; ++i) {
            const std::int64_t index = ((b * ch + i) * p.out_h + y) * p.out_w + x;
            const auto e = joule_ref::conv2d_at(p, in_nchw.data(), w_oihw.data(), c.bias ? bias.data() : nullptr,
                                                nullptr, c.act, index);
            want.push_back(e.value);
            bound.push_back(gamma(k * k + 2) * e.magnitude);
            got.push_back(out.data()[((b * p.out_h + y) * p.out_w + x) * ch + i]);
          }
    joule_test::expect_within(got, want, bound, "depthwise_conv2d_channels_last");
  }
};
TYPED_TEST_SUITE(depthwise_channels_last_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

TYPED_TEST(depthwise_channels_last_conformance, random_shapes_match_the_reference) {
  std::mt19937_64 rng(joule_test::run_seed());
  constexpr activation kActs[] = {activation::none, activation::relu, activation::relu6};
  for (int draw = 0; draw < 60; ++draw) {
    const std::int64_t k = draw % 4 == 3 ? (draw % 8 == 3 ? 1 : 5) : 3;
    const std::int64_t stride = joule_test::uniform_int(rng, 1, 2), pad = joule_test::uniform_int(rng, 0, k - 1);
    const std::int64_t lo = std::max<std::int64_t>(1, k - 2 * pad);
    const dw_case c{joule_test::uniform_int(rng, 1, 2),
                    joule_test::uniform_int(rng, lo, 16),
                    joule_test::uniform_int(rng, lo, 16),
                    joule_test::uniform_int(rng, 1, 80),
                    k,
                    stride,
                    pad,
                    joule_test::uniform_int(rng, 0, 1) == 1,
                    kActs[draw % 3]};
    this->check(c, static_cast<int>(joule_test::uniform_int(rng, 1, 2)), rng);
  }
}

TYPED_TEST(depthwise_channels_last_conformance, mobilenet_v2_small_planes_match_the_reference) {
  std::mt19937_64 rng(joule_test::run_seed());
  const dw_case cases[] = {{1, 14, 14, 288, 3, 1, 1, true, activation::relu6},
                           {1, 14, 14, 288, 3, 2, 1, true, activation::relu6},
                           {1, 7, 7, 480, 3, 1, 1, true, activation::relu6}};
  for (const auto& c : cases)
    for (int threads : {1, 2}) this->check(c, threads, rng);
}

TYPED_TEST(depthwise_channels_last_conformance, every_small_plane_of_a_3x3_with_padding_1) {
  // The simd kernel's own path (3x3, padding 1) splits each output row into its edge pixels and the
  // pixels between, whose window lies inside the image's columns: every width from 1 to 9 (none
  // between, one, many), odd heights from 1 to 9, both strides, a ragged vector of channels.
  std::mt19937_64 rng(joule_test::run_seed());
  for (std::int64_t h = 1; h <= 9; h += 2)
    for (std::int64_t w = 1; w <= 9; ++w)
      for (std::int64_t stride : {1, 2})
        this->check({1, h, w, 21, 3, stride, 1, w % 2 == 0, w % 3 == 0 ? activation::relu6 : activation::none}, 1, rng);
}

TYPED_TEST(depthwise_channels_last_conformance, a_nan_reaches_only_the_outputs_whose_window_holds_it) {
  std::mt19937_64 rng(joule_test::run_seed());
  // Pixel (2, 3), channel 5 of a 6 x 7 x 20 image: the reference propagates it to exactly the
  // outputs of channel 5 whose 3x3 window covers it, and expect_within wants NaN exactly there.
  this->check({1, 6, 7, 20, 3, 1, 1, true, activation::relu6}, 1, rng, (2 * 7 + 3) * 20 + 5);
  this->check({1, 6, 7, 20, 3, 2, 1, false, activation::none}, 2, rng, (2 * 7 + 3) * 20 + 5);
}

TYPED_TEST(depthwise_channels_last_conformance, bad_input_is_a_clear_error) {
  using P = TypeParam;
  joule::context<P> ctx(1);
  tensor<float> in(shape{1, 6, 6, 5}), weight(shape{3, 3, 5}), bias(shape{5}), out(shape{1, 6, 6, 5});
  const auto run = [&](joule::tensor_view<const float> i, joule::tensor_view<const float> w,
                       joule::tensor_view<float> o, std::int64_t stride, std::int64_t pad,
                       joule::tensor_view<const float> b) {
    return [=, &ctx] { joule::ops::depthwise_conv2d_channels_last(ctx, i, w, o, stride, pad, b); };
  };
  tensor<float> in3(shape{6, 6, 5}), weight4(shape{3, 3, 4}), bias4(shape{4}), out5(shape{1, 5, 6, 5});
  expect_error(run(in3.cview(), weight.cview(), out.view(), 1, 1, {}), "input must have rank 4");
  expect_error(run(in.cview(), weight4.cview(), out.view(), 1, 1, {}), "weight must be [k, k, 5]");
  expect_error(run(in.cview(), weight.cview(), out.view(), 0, 1, {}), "must have kernel >= 1");
  expect_error(run(in.cview(), weight.cview(), out.view(), 1, 3, {}), "must have kernel >= 1");
  tensor<float> tiny(shape{1, 1, 1, 5}), tiny_out(shape{1, 1, 1, 5});
  expect_error(run(tiny.cview(), weight.cview(), tiny_out.view(), 1, 0, {}), "smaller than the kernel");
  expect_error(run(in.cview(), weight.cview(), out5.view(), 1, 1, {}), "output must have shape");
  expect_error(run(in.cview(), weight.cview(), out.view(), 1, 1, bias4.cview()), "bias must have shape");
  expect_error(run(out.cview(), weight.cview(), out.view(), 1, 1, {}), "output overlaps input");
}

}  // namespace
