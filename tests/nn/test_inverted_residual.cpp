// nn::inverted_residual (MobileNetV2's block) shared out by channels across threads and run in
// bands of rows, against the same block run layer by layer on one thread (each layer's kernel is
// checked against a double-precision reference in tests/ops). Every CPU policy; blocks with and
// without expansion and residual, strides 1 and 2, even and odd sizes, two images, 1 to 3 threads,
// and band budgets down to one output row per band.
//
// Tolerance: normwise relative error <= 1e-5. Sharing out the channels splits the project layer's
// sum over them into one partial sum per thread (a different float32 summation order over at most
// a few hundred terms: ~1e-6); a wrong row, channel, halo or padding row is orders above it.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <joule/core/weights.hpp>
#include <joule/nn/channels_last.hpp>
#include <joule/nn/inverted_residual.hpp>
#include <joule/policy/policies.hpp>

#include "../common/testing.hpp"

namespace {

using joule::shape;
using joule::tensor;

template <class P>
class inverted_residual : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }
};
TYPED_TEST_SUITE(inverted_residual, joule_test::cpu_policy_types, joule_test::policy_name);

struct block_case {
  std::int64_t in, hidden, out, stride, size;
};

// A small MobileNetV2-like set: a residual block, stride 2 on even and odd sizes, no expansion,
// more channels than one micro-kernel tile, and a plane wide enough for several bands.
constexpr block_case kCases[] = {{8, 48, 8, 1, 13},    {8, 48, 16, 2, 14},  {8, 48, 16, 2, 15}, {16, 16, 8, 1, 9},
                                 {24, 144, 24, 1, 20}, {16, 96, 24, 2, 40}, {32, 192, 32, 1, 7}};

double normwise_error(const tensor<float>& got, const tensor<float>& want) {
  return joule_test::normwise_error(got.data(), want.data(), want.numel());
}

/** @brief A block of @p spec with random weights drawn from @p seed, prepared. */
template <class P>
joule::nn::inverted_residual<P> prepared_block(const joule::nn::inverted_residual_spec& spec, std::uint64_t seed) {
  joule::nn::inverted_residual<P> block(spec);
  std::vector<joule::weight_spec> manifest;
  block.add_to_manifest(manifest);
  block.prepare(joule::random_weights(manifest, seed));
  return block;
}

/** @brief Runs @p block on @p input with scratch sized as a model sizes it, and returns the output. */
template <class P>
tensor<float> run_block(const joule::nn::inverted_residual<P>& block, const tensor<float>& input, int threads,
                        std::int64_t band_bytes) {
  joule::context<P> ctx(threads);
  joule::nn::thread_contexts<P> workers;
  const shape s = input.shape();
  const auto plan = block.plan(s, threads, band_bytes);
  tensor<float> hidden(shape{std::max(block.hidden_shape(s).numel(), plan.hidden_floats)});
  tensor<float> filtered(shape{std::max(block.filtered_shape(s).numel(), plan.filtered_floats)});
  tensor<float> out(block.output_shape(s));
  block.forward(ctx, workers, input.cview(), out.view(), hidden.view(), filtered.view(), band_bytes);
  return out;
}

TYPED_TEST(inverted_residual, channels_shared_and_bands_give_the_layer_by_layer_outputs) {
  using P = TypeParam;
  int index = 1;
  for (const auto& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "in " << c.in << " hidden " << c.hidden << " out " << c.out << " stride "
                                      << c.stride << " size " << c.size);
    const auto block =
        prepared_block<P>({"features." + std::to_string(index) + ".conv.", c.in, c.hidden, c.out, c.stride},
                          static_cast<std::uint64_t>(index));
    ++index;
    std::mt19937_64 rng(7);
    const tensor<float> input = joule_test::random_tensor(rng, shape{2, c.in, c.size, c.size});
    // One thread and one band whatever the budget: the layers one after the other.
    const shape s = input.shape();
    const auto reference_plan = block.plan(s, 1, std::int64_t{1} << 40);
    ASSERT_TRUE(reference_plan.layer_by_layer());
    const tensor<float> want = run_block(block, input, 1, std::int64_t{1} << 40);
    for (int threads : {1, 2, 3})
      for (std::int64_t band_bytes : {std::int64_t{0}, std::int64_t{1}, std::int64_t{20000}}) {
        const auto plan = block.plan(s, threads, band_bytes);
        if (c.hidden == c.in) {
          // A block without expansion: layer by layer on one thread, else each thread its rows.
          EXPECT_EQ(plan.layer_by_layer(), threads == 1) << "threads " << threads;
          EXPECT_EQ(plan.split_rows, threads > 1) << "threads " << threads;
          if (threads > 1 && band_bytes == 1) {
            EXPECT_EQ(plan.rows, 1) << "one row per band";
          }
        } else {
          if (threads > 1) {
            EXPECT_GT(plan.threads, 1) << "threads " << threads;
          }
          if (c.stride == 2 && band_bytes == 1) {
            EXPECT_EQ(plan.rows, 1) << "one row per band";
          }
        }
        EXPECT_LE(normwise_error(run_block(block, input, threads, band_bytes), want), 1e-5)
            << "threads " << threads << " band_bytes " << band_bytes << " (plan: " << plan.threads << " threads, "
            << plan.bands << " bands of " << plan.rows << " rows)";
      }
  }
}

// Blocks on small planes (at most kChannelsLastMaxPixels pixels in and out) run channels-last
// where the policy's gemm reads a B packed ahead (prepare_channels_last): stride 1 with and without
// the residual, stride 2 on even and odd sizes, 1 to 3 threads, two images.
TYPED_TEST(inverted_residual, channels_last_on_small_planes_gives_the_layer_by_layer_outputs) {
  using P = TypeParam;
  using block_type = joule::nn::inverted_residual<P>;
  constexpr bool packs_b = block_type::kPolicyRunsChannelsLast;
  constexpr block_case kSmall[] = {{32, 192, 32, 1, 7},  {16, 96, 24, 1, 5}, {8, 48, 16, 2, 14}, {8, 48, 16, 2, 13},
                                   {24, 144, 24, 1, 14}, {8, 40, 8, 1, 28},  {8, 48, 16, 2, 27}};
  int index = 1;
  for (const auto& c : kSmall) {
    SCOPED_TRACE(::testing::Message() << "in " << c.in << " hidden " << c.hidden << " out " << c.out << " stride "
                                      << c.stride << " size " << c.size);
    std::mt19937_64 rng(11);
    const tensor<float> input = joule_test::random_tensor(rng, shape{2, c.in, c.size, c.size});
    const shape s = input.shape();
    for (int threads : {1, 2, 3}) {
      auto block = prepared_block<P>({"features." + std::to_string(index) + ".conv.", c.in, c.hidden, c.out, c.stride},
                                     static_cast<std::uint64_t>(index));
      const tensor<float> want = run_block(block, input, 1, std::int64_t{1} << 40);
      const auto plan = block.plan(s, threads, 0);
      ASSERT_EQ(block.prepare_channels_last(s, plan.threads), packs_b);
      EXPECT_EQ(block.channels_last_threads(), packs_b ? plan.threads : 0);
      EXPECT_EQ(block.runs_channels_last(s, threads, 0), packs_b) << "threads " << threads;
      // The forward() of the same block still runs NCHW.
      EXPECT_LE(normwise_error(run_block(block, input, threads, 0), want), 1e-5) << "threads " << threads;
      if (!packs_b) continue;
      tensor<float> in_nhwc(shape{s[0], s[2], s[3], s[1]});
      joule::nn::to_channels_last(input.cview(), in_nhwc.view());
      const shape out_nchw = block.output_shape(s);
      tensor<float> out_nhwc(shape{s[0], out_nchw[2], out_nchw[3], out_nchw[1]}), got(out_nchw);
      tensor<float> hidden(shape{block.hidden_shape(s).numel()});
      tensor<float> filtered(shape{std::max(block.filtered_shape(s).numel(), plan.filtered_floats)});
      joule::context<P> ctx(threads);
      joule::nn::thread_contexts<P> workers;
      block.forward_channels_last(ctx, workers, in_nhwc.cview(), out_nhwc.view(), hidden.view(), filtered.view());
      joule::nn::to_nchw(out_nhwc.cview(), got.view());
      EXPECT_LE(normwise_error(got, want), 1e-5) << "threads " << threads;
      // Scratch one float short of the partial outputs: a clear error, nothing written past it.
      tensor<float> short_filtered(shape{(c.hidden + (plan.threads - 1) * c.out) * out_nchw[2] * out_nchw[3] - 1});
      joule_test::expect_error(
          [&] {
            block.forward_channels_last(ctx, workers, in_nhwc.cview(), out_nhwc.view(), hidden.view(),
                                        short_filtered.view());
          },
          "is too small for an image");
    }
    ++index;
  }
}

TYPED_TEST(inverted_residual, channels_last_needs_a_block_prepared_for_it) {
  using P = TypeParam;
  auto block = prepared_block<P>({"features.2.conv.", 8, 48, 8, 1}, 1);
  EXPECT_FALSE(block.runs_channels_last(shape{1, 8, 7, 7}, 2, 0));
  // A plane too large for it: nothing is prepared.
  EXPECT_FALSE(block.prepare_channels_last(shape{1, 8, 56, 56}, 2));
  joule::context<P> ctx(1);
  joule::nn::thread_contexts<P> workers;
  tensor<float> in(shape{1, 7, 7, 8}), out(shape{1, 7, 7, 8}), hidden(shape{48 * 49}), filtered(shape{48 * 49});
  joule_test::expect_error(
      [&] { block.forward_channels_last(ctx, workers, in.cview(), out.view(), hidden.view(), filtered.view()); },
      "channels-last");
}

TYPED_TEST(inverted_residual, scratch_too_small_for_a_band_is_a_clear_error) {
  using P = TypeParam;
  const auto block = prepared_block<P>({"features.2.conv.", 8, 48, 16, 2}, 1);
  std::mt19937_64 rng(3);
  const tensor<float> input = joule_test::random_tensor(rng, shape{1, 8, 16, 16});
  joule::context<P> ctx(2);
  joule::nn::thread_contexts<P> workers;
  tensor<float> hidden(shape{16}), filtered(shape{16}), out(block.output_shape(input.shape()));
  joule_test::expect_error(
      [&] { block.forward(ctx, workers, input.cview(), out.view(), hidden.view(), filtered.view(), 1); },
      "is too small for a band");
}

}  // namespace
