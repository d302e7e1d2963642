// nn::conv_bn_act's channels-last form of a 1x1 layer (forward_channels_last: one GEMM over every
// pixel, the weight packed with the pixels as rows) against the same layer run NCHW (forward,
// whose kernel tests/ops checks against a double-precision reference), and
// nn::global_avg_pool_channels_last against a double-precision mean. Every CPU policy; planes of 1
// to 7 x 7 pixels, one to three images, channel counts that do and do not fill a panel, 1 to 3
// threads.
//
// Tolerance: normwise relative error <= 1e-5. Both forms sum the same products in float32, the
// GEMM's k blocks in the same order; the pool sums a plane's pixels in order.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <joule/core/weights.hpp>
#include <joule/nn/channels_last.hpp>
#include <joule/nn/conv_bn_act.hpp>
#include <joule/policy/policies.hpp>

#include "../common/testing.hpp"

namespace {

using joule::shape;
using joule::tensor;
using joule_test::normwise_error;

template <class P>
class conv_bn_act : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }
};
TYPED_TEST_SUITE(conv_bn_act, joule_test::cpu_policy_types, joule_test::policy_name);

template <class P>
joule::nn::conv_bn_act<P> prepared_layer(const joule::nn::conv_bn_act_spec& spec, std::uint64_t seed,
                                         std::int64_t images_per_call = 1) {
  joule::nn::conv_bn_act<P> layer(spec);
  std::vector<joule::weight_spec> manifest;
  layer.add_to_manifest(manifest);
  layer.prepare(joule::random_weights(manifest, seed), images_per_call);
  return layer;
}

TYPED_TEST(conv_bn_act, a_1x1_layer_channels_last_gives_the_nchw_outputs) {
  using P = TypeParam;
  struct layer_case {
    std::int64_t images, in, out, size;
  };
  // MobileNetV2's last layer, channels short of a panel and past it, a single pixel.
  constexpr layer_case kCases[] = {{1, 320, 1280, 7}, {2, 24, 40, 5}, {3, 7, 17, 3}, {1, 16, 8, 1}, {2, 300, 33, 2}};
  std::uint64_t seed = 1;
  for (const auto& c : kCases) {
    SCOPED_TRACE(::testing::Message() << c.images << " images, " << c.in << " -> " << c.out << " channels on " << c.size
                                      << " x " << c.size);
    const auto layer = prepared_layer<P>(
        {"features.18.0", "features.18.1", c.in, c.out, 1, 1, 1, joule::activation::relu6, true}, seed++);
    const bool packs_b = joule::is_host_space<typename P::memory_space> && joule::ops::gemm_b_panel_width<P> != 0 &&
                         joule::ops::conv2d_takes_packed_weight<P, joule::ops::conv2d_packing::pixels_as_rows>;
    ASSERT_EQ(layer.runs_channels_last(), packs_b);
    if (!packs_b) continue;
    std::mt19937_64 rng(seed);
    const tensor<float> input = joule_test::random_tensor(rng, shape{c.images, c.in, c.size, c.size});
    tensor<float> want(shape{c.images, c.out, c.size, c.size});
    tensor<float> in_nhwc(shape{c.images, c.size, c.size, c.in}), out_nhwc(shape{c.images, c.size, c.size, c.out});
    tensor<float> got(want.shape());
    joule::nn::to_channels_last(input.cview(), in_nhwc.view());
    for (int threads : {1, 2, 3}) {
      joule::context<P> ctx(threads);
      layer.forward(ctx, input.cview(), want.view());
      layer.forward_channels_last(ctx, in_nhwc.cview(), out_nhwc.view());
      joule::nn::to_nchw(out_nhwc.cview(), got.view());
      EXPECT_LE(normwise_error(got.data(), want.data(), want.numel()), 1e-5) << "threads " << threads;
    }
  }
}

TYPED_TEST(conv_bn_act, channels_last_is_refused_with_a_clear_error_where_it_does_not_apply) {
  using P = TypeParam;
  joule::context<P> ctx(1);
  // A 3x3 layer, and a 1x1 layer whose weight was not packed with the pixels as rows.
  const auto three = prepared_layer<P>({"c", "b", 8, 16, 3, 1, 1, joule::activation::relu6, true}, 1);
  const auto unpacked = prepared_layer<P>({"c", "b", 8, 16, 1, 1, 1, joule::activation::relu6, false}, 2);
  const auto several = prepared_layer<P>({"c", "b", 8, 16, 1, 1, 1, joule::activation::relu6, true}, 3, 4);
  tensor<float> in(shape{1, 5, 5, 8}), out(shape{1, 5, 5, 16});
  for (const auto* layer : {&three, &unpacked, &several}) {
    EXPECT_FALSE(layer->runs_channels_last());
    joule_test::expect_error([&] { layer->forward_channels_last(ctx, in.cview(), out.view()); }, "channels-last");
  }
  const auto layer = prepared_layer<P>({"c", "b", 8, 16, 1, 1, 1, joule::activation::relu6, true}, 4);
  if (!layer.runs_channels_last()) return;
  tensor<float> wrong_in(shape{1, 5, 5, 9}), wrong_out(shape{1, 5, 4, 16});
  joule_test::expect_error([&] { layer.forward_channels_last(ctx, wrong_in.cview(), out.view()); },
                           "channels-last input must be [n, h, w, 8]");
  joule_test::expect_error([&] { layer.forward_channels_last(ctx, in.cview(), wrong_out.view()); },
                           "channels-last output must be [1, 5, 5, 16]");
  // The output over the input: refused, not computed from half-overwritten values.
  tensor<float> shared(shape{1 * 5 * 5 * 16});
  const joule::tensor_view<const float> aliased_in(shared.data(), shape{1, 5, 5, 8});
  joule_test::expect_error(
      [&] { layer.forward_channels_last(ctx, aliased_in, joule::tensor_view<float>(shared.data(), out.shape())); },
      "overlaps");
}

TEST(global_avg_pool_channels_last, gives_each_channels_mean_over_the_plane) {
  std::mt19937_64 rng(5);
  for (const shape& s : {shape{1, 7, 7, 1280}, shape{3, 2, 5, 17}, shape{2, 1, 1, 3}}) {
    SCOPED_TRACE(::testing::Message() << s);
    const tensor<float> x = joule_test::random_tensor(rng, s);
    tensor<float> pooled(shape{s[0], s[3]});
    joule::nn::global_avg_pool_channels_last(x.cview(), pooled.view());
    std::vector<double> want(static_cast<std::size_t>(s[0] * s[3]), 0.0);
    const std::int64_t pixels = s[1] * s[2];
    for (std::int64_t i = 0; i < s[0]; ++i)
      for (std::int64_t p = 0; p < pixels; ++p)
        for (std::int64_t c = 0; c < s[3]; ++c)
          want[static_cast<std::size_t>(i * s[3] + c)] += x.data()[(i * pixels + p) * s[3] + c] / double(pixels);
    EXPECT_LE(normwise_error(pooled.data(), want.data(), pooled.numel()), 1e-6);
  }
  tensor<float> x(shape{2, 3, 3, 4}), wrong(shape{2, 3});
  joule_test::expect_error([&] { joule::nn::global_avg_pool_channels_last(x.cview(), wrong.view()); },
                           "pools to [n, c], got [2, 3]");
}

}  // namespace
