// Executors of every CPU policy, all compiled from one joule::weights, running from several threads
// at once: each one's output must be bitwise identical to what the same executor computes when it
// runs alone. The weights are shared read-only; every executor owns its prepacked copy, its context
// (thread pool) and its scratch memory, so nothing may differ, not even the last bit. Executors with
// threads = 2 run their own thread pool inside the concurrent run as well. Built and run under
// ThreadSanitizer by the `tsan` preset (scripts/sanitizers.sh), which reports any data race.
#include <barrier>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <joule/io/npy.hpp>
#include <joule/io/weights.hpp>
#include <joule/models/bert.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <joule/models/resnet.hpp>

#include "../common/testing.hpp"

namespace {

using joule::tensor;

const std::string kData = JOULE_TEST_DATA_DIR;
constexpr int kRounds = 3;  // runs per executor while the others run

// One executor, type-erased: run() computes into the executor's memory and returns a copy.
struct runner {
  std::string name;
  std::function<tensor<float>()> run;
};

template <class Model, class Input>
runner make_runner(Model model, const joule::weights& w, joule::compile_options options, Input input) {
  auto net = std::make_shared<joule::executor<Model>>(std::move(model), w, options);
  std::string name =
      std::string(Model::policy::name()) + " " + net->model().name() + " threads " + std::to_string(options.threads);
  return {std::move(name), [net, input] { return tensor<float>::copy_of(net->run(input)); }};
}

void expect_same_alone_and_together(std::vector<runner>& runners) {
  ASSERT_GE(runners.size(), 2u);
  std::vector<tensor<float>> alone;
  for (auto& r : runners) alone.push_back(r.run());

  // Every thread starts its rounds at the same moment, so the executors really overlap.
  std::vector<std::vector<tensor<float>>> together(runners.size());
  std::barrier start(static_cast<std::ptrdiff_t>(runners.size()));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < runners.size(); ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      for (int round = 0; round < kRounds; ++round) together[i].push_back(runners[i].run());
    });
  for (auto& t : threads) t.join();

  for (std::size_t i = 0; i < runners.size(); ++i)
    for (int round = 0; round < kRounds; ++round) {
      const auto& got = together[i][static_cast<std::size_t>(round)];
      ASSERT_EQ(got.shape(), alone[i].shape()) << runners[i].name;
      for (std::int64_t k = 0; k < got.numel(); ++k)
        ASSERT_EQ(std::bit_cast<std::uint32_t>(got[k]), std::bit_cast<std::uint32_t>(alone[i][k]))
            << runners[i].name << ", round " << round << ", element " << k;
    }
}

// Every available CPU policy, with one and with two threads, from one set of weights.
template <template <class> class Model, class Config, class Input>
std::vector<runner> runners_for(const Config& config, const joule::weights& w, joule::compile_options options,
                                const Input& input) {
  std::vector<runner> out;
  joule::cpu_policies::for_each([&]<class P>() {
    if (!P::available()) return;
    for (int threads : {1, 2}) {
      options.threads = threads;
      out.push_back(make_runner(Model<P>{config}, w, options, input));
    }
  });
  return out;
}

TEST(concurrency_executors, resnet_every_policy_at_once_is_bitwise_identical) {
  const auto w = joule::io::load_weights(kData + "/resnet_small.safetensors");
  const auto input = joule::io::read_npy_f32(kData + "/resnet_small.input.npy");
  auto runners = runners_for<joule::models::resnet>(joule::models::resnet_small_config(), w,
                                                    {.batch = 2, .image_size = 64}, input.cview());
  expect_same_alone_and_together(runners);
}

TEST(concurrency_executors, mobilenet_v2_every_policy_at_once_is_bitwise_identical) {
  const auto w = joule::io::load_weights(kData + "/mobilenet_v2_small.safetensors");
  const auto input = joule::io::read_npy_f32(kData + "/mobilenet_v2_small.input.npy");
  auto runners = runners_for<joule::models::mobilenet_v2>(joule::models::mobilenet_v2_small_config(), w,
                                                          {.batch = 2, .image_size = 64}, input.cview());
  expect_same_alone_and_together(runners);
}

TEST(concurrency_executors, bert_every_policy_at_once_is_bitwise_identical) {
  const auto w = joule::io::load_weights(kData + "/bert_small.safetensors");
  const auto ids = joule::io::read_npy_i64(kData + "/bert_small.ids.npy");
  const auto mask = joule::io::read_npy_i64(kData + "/bert_small.mask.npy");
  const auto types = joule::io::read_npy_i64(kData + "/bert_small.token_types.npy");
  auto runners = runners_for<joule::models::bert>(joule::models::bert_small_config(), w, {.batch = 2, .seq_len = 16},
                                                  joule::models::bert_input{ids.cview(), mask.cview(), types.cview()});
  expect_same_alone_and_together(runners);
}

}  // namespace
