// The reference models on every CPU policy: golden outputs that PyTorch produced for the small
// configurations (tests/data, written by tools/make_golden.py), agreement between policies on the
// full-size configurations at reduced size, checkpoint names and errors, no allocation in run(),
// and executors of every policy running at once from several threads.
//
// Tolerance: normwise relative error max|joule - torch| / max|torch| <= 1e-4. Each layer adds
// float32 rounding of about sqrt(K)·u (K up to a few thousand, u = 2^-24: ~1e-6) in a different
// summation order than PyTorch's, and batch-norm / layer-norm keep activations O(1), so the error
// grows roughly linearly with depth (~20-50 layers): 1e-4 leaves a margin of ~3-10x over what
// float32 accumulation produces, and any wrong index, layout or missing term is orders above it.
//
// Bad input tested: a missing tensor, a tensor of the wrong shape and an unexpected tensor (all
// listed by name in one error); an input of another shape than compiled; BERT ids out of the
// vocabulary; a BERT attention mask with values other than 0 and 1.
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <new>
#include <thread>

#include <joule/io/npy.hpp>
#include <joule/io/weights.hpp>
#include <joule/models/bert.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <joule/models/resnet.hpp>

#include "../common/testing.hpp"
#include "golden.hpp"

// Counts heap allocations made by this process, to prove that run() makes none. (GCC cannot see
// that this operator new and delete are a malloc/free pair and warns at every inlined delete.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<std::int64_t> g_allocations{0};
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using joule_test::expect_error;

using joule::shape;
using joule::tensor;

using joule_test::bert_fixture;
using joule_test::kData;
using joule_test::normwise_error;

template <class P>
class models : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }
};
TYPED_TEST_SUITE(models, joule_test::cpu_policy_types, joule_test::policy_name);

TYPED_TEST(models, resnet_matches_pytorch) {
  // On a host policy, one thread takes the batch's two images as one pass, the stem and first stage
  // one image at a time, the rest two; two threads take an image each, on their own buffers; three
  // (more than the images) share every layer.
  const auto [w, input, expected] = joule_test::load_vision_golden("resnet_small");
  for (int threads : {1, 2, 3}) {
    auto net = joule::compile<TypeParam>(joule::models::resnet<TypeParam>{joule::models::resnet_small_config()}, w,
                                         {.batch = 2, .image_size = 64, .threads = threads});
    const auto out = net.run(input.cview());
    ASSERT_EQ(out.shape(), expected.shape());
    EXPECT_LE(normwise_error(out, expected.cview()), 1e-4) << "threads " << threads;
  }
}

TYPED_TEST(models, mobilenet_v2_matches_pytorch) {
  // On a host policy each inverted residual block shares its expanded channels out across the
  // threads, and runs its stride-2 blocks in bands of rows sized by band_bytes: the default, one
  // output row per band (1), a few rows (4096), and one band (1 GB) must all give PyTorch's outputs.
  const auto [w, input, expected] = joule_test::load_vision_golden("mobilenet_v2_small");
  for (std::int64_t band_bytes : {std::int64_t{0}, std::int64_t{1}, std::int64_t{4096}, std::int64_t{1} << 30})
    for (int threads : {1, 2, 3}) {
      auto net =
          joule::compile<TypeParam>(joule::models::mobilenet_v2<TypeParam>{joule::models::mobilenet_v2_small_config()},
                                    w, {.batch = 2, .image_size = 64, .threads = threads, .band_bytes = band_bytes});
      const auto out = net.run(input.cview());
      ASSERT_EQ(out.shape(), expected.shape());
      EXPECT_LE(normwise_error(out, expected.cview()), 1e-4) << "band_bytes " << band_bytes << " threads " << threads;
    }
  expect_error(
      [&] {
        joule::compile<TypeParam>(joule::models::mobilenet_v2<TypeParam>{joule::models::mobilenet_v2_small_config()}, w,
                                  {.batch = 2, .image_size = 64, .band_bytes = -1});
      },
      "band_bytes must be >= 0");
}

TYPED_TEST(models, vision_models_give_the_same_outputs_whatever_the_images_per_pass) {
  // A host policy takes a few images at a time through the layers by default (nn::images_per_pass:
  // ResNet up to eight, after its stem and first stage one at a time (resnet_matches_pytorch, batch
  // 2 on one thread, runs that split); MobileNetV2 one); one image, the whole batch at once, or a pass larger than
  // the batch must give PyTorch's outputs too, and the same flop count. Several images per pass go
  // through the simd convolutions as one GEMM.
  const auto [rw, r_input, r_expected] = joule_test::load_vision_golden("resnet_small");
  const auto [mw, m_input, m_expected] = joule_test::load_vision_golden("mobilenet_v2_small");
  double resnet_flops = 0, mobilenet_flops = 0;
  for (std::int64_t images : {0, 1, 2, 5}) {
    const joule::compile_options options{.batch = 2, .image_size = 64, .threads = 2, .images_at_once = images};
    auto resnet =
        joule::compile<TypeParam>(joule::models::resnet<TypeParam>{joule::models::resnet_small_config()}, rw, options);
    EXPECT_LE(normwise_error(resnet.run(r_input.cview()), r_expected.cview()), 1e-4) << "images_at_once " << images;
    auto mobilenet = joule::compile<TypeParam>(
        joule::models::mobilenet_v2<TypeParam>{joule::models::mobilenet_v2_small_config()}, mw, options);
    EXPECT_LE(normwise_error(mobilenet.run(m_input.cview()), m_expected.cview()), 1e-4) << "images_at_once " << images;
    if (images == 0) resnet_flops = resnet.flops(), mobilenet_flops = mobilenet.flops();
    EXPECT_DOUBLE_EQ(resnet.flops(), resnet_flops);
    EXPECT_DOUBLE_EQ(mobilenet.flops(), mobilenet_flops);
  }
  expect_error(
      [&] {
        joule::compile<TypeParam>(joule::models::resnet<TypeParam>{joule::models::resnet_small_config()}, rw,
                                  {.batch = 2, .image_size = 64, .images_at_once = -1});
      },
      "images_at_once must be >= 0");
}

TYPED_TEST(models, bert_matches_pytorch_with_mask_and_token_types) {
  bert_fixture f;
  auto net = joule::compile<TypeParam>(joule::models::bert<TypeParam>{joule::models::bert_small_config()}, f.w,
                                       {.batch = 2, .seq_len = 16, .threads = 2});
  const auto out = net.run({f.ids.cview(), f.mask.cview(), f.types.cview()});
  ASSERT_EQ(out.shape(), f.expected.shape());
  EXPECT_LE(normwise_error(out, f.expected.cview()), 1e-4);
  // The pooler is in the checkpoint but not in the encoder's output: ignored, and said so.
  EXPECT_NE(net.weights_report().to_string().find("pooler.dense.weight"), std::string::npos);
}

TYPED_TEST(models, bert_reads_prefixed_checkpoints_and_ignores_heads) {
  bert_fixture f;
  joule::weights prefixed;
  for (const auto& name : f.w.names()) prefixed.insert("bert." + name, tensor<float>(f.w.at(name)));
  prefixed.insert("cls.predictions.bias", tensor<float>(shape{100}));
  auto net = joule::compile<TypeParam>(joule::models::bert<TypeParam>{joule::models::bert_small_config()}, prefixed,
                                       {.batch = 2, .seq_len = 16, .threads = 1});
  const auto out = net.run({f.ids.cview(), f.mask.cview(), f.types.cview()});
  EXPECT_LE(normwise_error(out, f.expected.cview()), 1e-4);
  EXPECT_NE(net.weights_report().to_string().find("cls.predictions.bias"), std::string::npos);
}

TYPED_TEST(models, weights_handed_over_to_compile_are_freed_and_give_the_same_outputs) {
  // compile(model, std::move(w)) frees each tensor once its layer holds a copy (joule-run's peak
  // memory): every layer must have copied what it needs before that, or the golden outputs break.
  auto [w, input, expected] = joule_test::load_vision_golden("mobilenet_v2_small");
  auto net =
      joule::compile<TypeParam>(joule::models::mobilenet_v2<TypeParam>{joule::models::mobilenet_v2_small_config()},
                                std::move(w), {.batch = 2, .image_size = 64, .threads = 2});
  EXPECT_EQ(w.size(), 0u);  // NOLINT(bugprone-use-after-move): compile leaves it empty, as documented
  EXPECT_LE(normwise_error(net.run(input.cview()), expected.cview()), 1e-4);

  auto [rw, rinput, rexpected] = joule_test::load_vision_golden("resnet_small");
  auto resnet = joule::compile<TypeParam>(joule::models::resnet<TypeParam>{joule::models::resnet_small_config()},
                                          std::move(rw), {.batch = 2, .image_size = 64, .threads = 2});
  EXPECT_LE(normwise_error(resnet.run(rinput.cview()), rexpected.cview()), 1e-4);

  bert_fixture f;
  auto bert = joule::compile<TypeParam>(joule::models::bert<TypeParam>{joule::models::bert_small_config()},
                                        joule::weights(f.w), {.batch = 2, .seq_len = 16, .threads = 2});
  EXPECT_LE(normwise_error(bert.run({f.ids.cview(), f.mask.cview(), f.types.cview()}), f.expected.cview()), 1e-4);
  // The fixture's own weights, compiled by const reference, are untouched and compile again.
  auto again = joule::compile<TypeParam>(joule::models::bert<TypeParam>{joule::models::bert_small_config()}, f.w,
                                         {.batch = 2, .seq_len = 16, .threads = 1});
  EXPECT_LE(normwise_error(again.run({f.ids.cview(), f.mask.cview(), f.types.cview()}), f.expected.cview()), 1e-4);
}

TEST(weights, a_tensor_freed_after_its_copy_is_a_clear_error_when_read_again) {
  joule::weights w;
  w.insert("fc.weight", tensor<float>(shape{2, 3}));
  w.done_with("fc.weight");  // not handed over: nothing is freed
  EXPECT_EQ(w.at("fc.weight").numel(), 6);
  w.free_tensors_once_copied();
  w.done_with("fc.weight");
  w.done_with("no.such.tensor");  // names it does not hold are ignored
  EXPECT_TRUE(w.contains("fc.weight"));
  expect_error([&] { (void)w.at("fc.weight"); }, "tensor 'fc.weight' was already freed");
  expect_error([&] { (void)w.at("fc.bias"); }, "no tensor named 'fc.bias'");
}

TYPED_TEST(models, full_size_configurations_agree_with_scalar) {
  joule_test::expect_full_size_configurations_agree_with_scalar<TypeParam>(2);
}

TYPED_TEST(models, run_allocates_nothing) {
  const auto w = joule::io::load_weights(kData + "/resnet_small.safetensors");
  const auto input = joule::io::read_npy_f32(kData + "/resnet_small.input.npy");
  auto net = joule::compile<TypeParam>(joule::models::resnet<TypeParam>{joule::models::resnet_small_config()}, w,
                                       {.batch = 2, .image_size = 64, .threads = 2});
  bert_fixture f;
  auto bert = joule::compile<TypeParam>(joule::models::bert<TypeParam>{joule::models::bert_small_config()}, f.w,
                                        {.batch = 2, .seq_len = 16, .threads = 2});
  // MobileNetV2's blocks run their channel shares on one-thread contexts of their own, made (and
  // their scratch sized) by the warm-up run at compile.
  const auto mw = joule::io::load_weights(kData + "/mobilenet_v2_small.safetensors");
  const auto m_input = joule::io::read_npy_f32(kData + "/mobilenet_v2_small.input.npy");
  auto mobilenet =
      joule::compile<TypeParam>(joule::models::mobilenet_v2<TypeParam>{joule::models::mobilenet_v2_small_config()}, mw,
                                {.batch = 2, .image_size = 64, .threads = 2, .band_bytes = 4096});
  const auto before = g_allocations.load();
  for (int i = 0; i < 3; ++i) {
    net.run(input.cview());
    bert.run({f.ids.cview(), f.mask.cview(), f.types.cview()});
    mobilenet.run(m_input.cview());
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
}

TYPED_TEST(models, bad_checkpoints_and_inputs_are_clear_errors) {
  using R = joule::models::resnet<TypeParam>;
  const auto good = joule::io::load_weights(kData + "/resnet_small.safetensors");
  joule::weights bad;
  for (const auto& name : good.names())
    if (name != "layer2.0.conv2.weight") bad.insert(name, tensor<float>(good.at(name)));
  bad.insert("fc.bias", tensor<float>(shape{11}));
  bad.insert("layer9.0.conv1.weight", tensor<float>(shape{1}));
  try {
    joule::compile(R{joule::models::resnet_small_config()}, bad, {.batch = 1, .image_size = 64});
    ADD_FAILURE() << "expected an error";
  } catch (const joule::error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("Missing: layer2.0.conv2.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("Wrong shape: fc.bias is [11], expected [10]"), std::string::npos) << m;
    EXPECT_NE(m.find("Unexpected: layer9.0.conv1.weight"), std::string::npos) << m;
  }
  auto net = joule::compile(R{joule::models::resnet_small_config()}, good, {.batch = 1, .image_size = 64});
  tensor<float> wrong(shape{1, 3, 32, 32});
  expect_error([&] { net.run(wrong.cview()); }, "input must be [1, 3, 64, 64] (as compiled), got [1, 3, 32, 32]");

  bert_fixture f;
  auto bert = joule::compile(joule::models::bert<TypeParam>{joule::models::bert_small_config()}, f.w,
                             {.batch = 2, .seq_len = 16, .threads = 1});
  auto ids = f.ids;
  ids[5] = 100;  // vocabulary is 100
  expect_error([&] { bert.run({ids.cview()}); }, "100");
  auto mask = f.mask;
  mask[3] = 2;
  expect_error([&] { bert.run({f.ids.cview(), mask.cview()}); }, "mask values must be 0 or 1, got 2 at position 3");
}

TEST(models_concurrency, executors_of_every_policy_run_at_once) {
  const auto w = joule::io::load_weights(kData + "/mobilenet_v2_small.safetensors");
  const auto input = joule::io::read_npy_f32(kData + "/mobilenet_v2_small.input.npy");
  std::vector<tensor<float>> alone, together;
  std::vector<std::function<void(std::vector<tensor<float>>&, std::size_t)>> runners;
  joule::cpu_policies::for_each([&]<class P>() {
    if (!P::available()) return;
    auto net = std::make_shared<joule::executor<joule::models::mobilenet_v2<P>>>(
        joule::models::mobilenet_v2<P>{joule::models::mobilenet_v2_small_config()}, w,
        joule::compile_options{.batch = 2, .image_size = 64, .threads = 1});
    runners.push_back([net, &input](std::vector<tensor<float>>& out, std::size_t i) {
      for (int r = 0; r < 5; ++r) out[i] = tensor<float>::copy_of(net->run(input.cview()));
    });
  });
  alone.resize(runners.size());
  together.resize(runners.size());
  for (std::size_t i = 0; i < runners.size(); ++i) runners[i](alone, i);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < runners.size(); ++i) threads.emplace_back([&, i] { runners[i](together, i); });
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < runners.size(); ++i)
    for (std::int64_t j = 0; j < alone[i].numel(); ++j) ASSERT_EQ(alone[i][j], together[i][j]) << "executor " << i;
}

}  // namespace
