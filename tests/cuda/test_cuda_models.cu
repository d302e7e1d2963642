// The reference models on the cuda policy: the same golden outputs PyTorch produced for the small
// configurations (tests/data) as tests/models/test_models.cpp checks on the CPU policies, agreement
// with the scalar policy on the full-size configurations, the executor's host-device traffic
// (only the input in and the output out, counted), its CUDA graphs, and bad input caught on the
// host before anything is uploaded. Every test needs a device and is skipped, with the reason
// cudaGetDeviceCount gave, when there is none.
//
// Tolerance: as for the CPU policies, normwise relative error <= 1e-4 against PyTorch (float32
// accumulation in another order; TF32 is off by default, which this file also checks).
#include <joule/io/npy.hpp>
#include <joule/io/weights.hpp>
#include <joule/models/bert.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <joule/models/resnet.hpp>

#include "../common/testing.hpp"
#include "../models/golden.hpp"

namespace {

using joule::shape;
using joule::tensor;
using joule_test::expect_error;

using joule_test::bert_fixture;
using joule_test::kData;
using joule_test::normwise_error;

class cuda_models : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(joule::cuda); }
};

TEST_F(cuda_models, resnet_matches_pytorch) {
  const auto [w, input, expected] = joule_test::load_vision_golden("resnet_small");
  auto net = joule::compile<joule::cuda>(joule::models::resnet<joule::cuda>{joule::models::resnet_small_config()}, w,
                                         {.batch = 2, .image_size = 64});
  EXPECT_FALSE(net.ctx().allow_tf32()) << "float32 must be exact unless the user opts in";
  const auto out = net.run(input.cview());
  ASSERT_EQ(out.shape(), expected.shape());
  EXPECT_LE(normwise_error(out, expected.cview()), 1e-4);
}

TEST_F(cuda_models, mobilenet_v2_matches_pytorch) {
  const auto [w, input, expected] = joule_test::load_vision_golden("mobilenet_v2_small");
  auto net =
      joule::compile<joule::cuda>(joule::models::mobilenet_v2<joule::cuda>{joule::models::mobilenet_v2_small_config()},
                                  w, {.batch = 2, .image_size = 64});
  const auto out = net.run(input.cview());
  ASSERT_EQ(out.shape(), expected.shape());
  EXPECT_LE(normwise_error(out, expected.cview()), 1e-4);
}

TEST_F(cuda_models, bert_matches_pytorch_with_mask_and_token_types) {
  bert_fixture f;
  auto net = joule::compile<joule::cuda>(joule::models::bert<joule::cuda>{joule::models::bert_small_config()}, f.w,
                                         {.batch = 2, .seq_len = 16});
  const auto out = net.run({f.ids.cview(), f.mask.cview(), f.types.cview()});
  ASSERT_EQ(out.shape(), f.expected.shape());
  EXPECT_LE(normwise_error(out, f.expected.cview()), 1e-4);
}

TEST_F(cuda_models, full_size_configurations_agree_with_scalar) {
  joule_test::expect_full_size_configurations_agree_with_scalar<joule::cuda>(1);
}

TEST_F(cuda_models, copies_only_the_input_in_and_the_output_out) {
  const auto w = joule::io::load_weights(kData + "/resnet_small.safetensors");
  const auto input = joule::io::read_npy_f32(kData + "/resnet_small.input.npy");
  auto net = joule::compile(joule::models::resnet<joule::cuda>{joule::models::resnet_small_config()}, w,
                            {.batch = 2, .image_size = 64});
  EXPECT_EQ(net.transfers(), joule::transfer_stats{}) << "compiling (weights, warm-up) is not counted";
  EXPECT_EQ(net.graphs_captured(), 1);
  constexpr int kRuns = 3;
  tensor<float> first;
  for (int i = 0; i < kRuns; ++i) {
    const auto out = net.run(input.cview());
    if (i == 0) first = tensor<float>::copy_of(out);
    // A replayed graph computes what the first launch did.
    EXPECT_EQ(normwise_error(out, first.cview()), 0.0) << "run " << i;
  }
  const auto t = net.transfers();
  EXPECT_EQ(t.to_device_copies, kRuns);
  EXPECT_EQ(t.to_device_bytes, kRuns * input.numel() * std::int64_t{sizeof(float)});
  EXPECT_EQ(t.to_host_copies, kRuns);
  EXPECT_EQ(t.to_host_bytes, kRuns * 2 * 10 * std::int64_t{sizeof(float)});  // logits [2, 10]
  EXPECT_EQ(net.graphs_captured(), 1) << "one graph, captured once, replayed";

  bert_fixture f;
  auto bert = joule::compile(joule::models::bert<joule::cuda>{joule::models::bert_small_config()}, f.w,
                             {.batch = 2, .seq_len = 16});
  bert.run({f.ids.cview(), f.mask.cview(), f.types.cview()});
  const auto b = bert.transfers();
  // ids, token types and the mask (as additive scores) in; the hidden state out.
  EXPECT_EQ(b.to_device_copies, 3);
  EXPECT_EQ(b.to_device_bytes, 2 * 32 * std::int64_t{sizeof(std::int64_t)} + 32 * std::int64_t{sizeof(float)});
  EXPECT_EQ(b.to_host_copies, 1);
  EXPECT_EQ(b.to_host_bytes, f.expected.numel() * std::int64_t{sizeof(float)});
  EXPECT_EQ(bert.graphs_captured(), 2) << "the example input (ids only) and ids + mask + types";
}

TEST_F(cuda_models, tf32_is_opt_in) {
  const auto w = joule::io::load_weights(kData + "/resnet_small.safetensors");
  auto net = joule::compile(joule::models::resnet<joule::cuda>{joule::models::resnet_small_config()}, w,
                            {.batch = 1, .image_size = 64, .allow_tf32 = true});
  EXPECT_TRUE(net.ctx().allow_tf32());
}

TEST_F(cuda_models, bad_input_is_caught_on_the_host_before_the_upload) {
  bert_fixture f;
  auto bert = joule::compile(joule::models::bert<joule::cuda>{joule::models::bert_small_config()}, f.w,
                             {.batch = 2, .seq_len = 16});
  auto ids = f.ids;
  ids[5] = 100;  // the vocabulary is 100
  expect_error([&] { bert.run({ids.cview()}); }, "token id 100 at ids[0, 5] is out of range [0, 100)");
  auto mask = f.mask;
  mask[3] = 2;
  expect_error([&] { bert.run({f.ids.cview(), mask.cview()}); }, "mask values must be 0 or 1, got 2 at position 3");
  EXPECT_EQ(bert.transfers(), joule::transfer_stats{}) << "nothing was uploaded for rejected input";

  const auto w = joule::io::load_weights(kData + "/resnet_small.safetensors");
  auto net = joule::compile(joule::models::resnet<joule::cuda>{joule::models::resnet_small_config()}, w,
                            {.batch = 1, .image_size = 64});
  tensor<float> wrong(shape{1, 3, 32, 32});
  expect_error([&] { net.run(wrong.cview()); }, "input must be [1, 3, 64, 64] (as compiled), got [1, 3, 32, 32]");
}

}  // namespace
