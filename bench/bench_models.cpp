// The model shootout under Google Benchmark: ResNet-50 and MobileNetV2 at batch 1 and 64, BERT-base
// at sequence length 128 and batch 1 and 8, on every policy, with energy counters (J/iter and W
// from joule::energy's probe: measured where the machine has a sensor, estimated otherwise, and the
// label says which), J/inference, GFLOP/s and inferences per second.
//
//   build/release/bench/bench_models --benchmark_filter='batch:1/' --benchmark_out=models.json
//   python3 tools/plot_benchmark.py models.json models.png     # the same chart as joule-shootout
//
// Names: models/<model>/batch:<b>/<policy>/threads:<t>. Threads: every core (the scalar policy: one),
// or JOULE_BENCH_THREADS. Each benchmark compiles its executor once (one run sizes its buffers),
// then runs for --benchmark_min_time (Google Benchmark's default, 0.5 s) and at least one
// iteration. The scalar policy is plain loops: one ResNet-50 run at batch 64 takes minutes, so a
// full run is long. Leave it out with
//   --benchmark_filter='-/scalar/'           (a leading '-' negates the filter)
// or measure it alone with --benchmark_filter='/scalar/' when there is time.
// Unavailable policies (cuda without a device) are listed, skipped with their reason. With the CUDA
// toolkit the cuda policy comes from joule/choose/cuda_candidates.cu (nvcc), and its benchmarks
// also count the host-device bytes each iteration copies.
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <joule/choose/candidate.hpp>
#include <joule/choose/family.hpp>
#if JOULE_HAS_CUDA && JOULE_CUDA_CANDIDATES
#include <joule/choose/cuda_candidates.hpp>
#endif
#include <joule/energy/benchmark.hpp>
#include <joule/energy/probe.hpp>

#include "bench_common.hpp"

namespace {

joule::energy::meter& shared_meter() {
  static const joule::energy::probe_result probed = joule::energy::probe();
  return *probed.chosen;
}

using joule_bench::bench_threads;
using joule_bench::slot;
using joule_bench::weights_for;

template <class P, class Family>
void register_model(const Family& family, const std::string& model, std::int64_t batch, std::int64_t seq_len) {
  using traits = joule::tuning::family_traits<std::remove_cvref_t<decltype(family.config)>>;
  using model_type = decltype(family.template instantiate<P>());
  const int threads = std::is_same_v<P, joule::scalar> ? 1 : bench_threads();
  const std::string name =
      "models/" + model + "/batch:" + std::to_string(batch) + "/" + P::name() + "/threads:" + std::to_string(threads);
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    if (!P::available()) {
      state.SkipWithError((std::string(P::name()) + " is unavailable here: " + P::unavailable_reason()).c_str());
      return;
    }
    const joule::compile_options options{.batch = batch, .image_size = 224, .seq_len = seq_len, .threads = threads};
    auto& s = slot();
    if (s.name != name) {
      s = {};
      const auto& w = weights_for(model, family.template instantiate<joule::scalar>().manifest());
      s.executor = std::make_shared<joule::executor<model_type>>(family.template instantiate<P>(), w, options);
      s.input = std::make_shared<typename traits::input_data>(traits::make_input(family.config, options, 1));
      s.name = name;
    }
    auto& net = *std::static_pointer_cast<joule::executor<model_type>>(s.executor);
    const auto& input = *std::static_pointer_cast<typename traits::input_data>(s.input);
    {
      joule::energy::benchmark_meter energy(state, shared_meter(), std::string("policy=") + P::name());
      for (auto _ : state) benchmark::DoNotOptimize(net.run(input.view()).data());
      energy.stop();
    }
    state.counters["J/inference"] = state.counters["J/iter"].value / static_cast<double>(batch);
    state.SetItemsProcessed(state.iterations() * batch);
    joule_bench::set_gflops(state, net.flops());
  });
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

#if JOULE_HAS_CUDA && JOULE_CUDA_CANDIDATES
/** The cuda policy, through the nvcc-compiled factories: the GPU beside the CPU policies. */
template <class Family>
void register_cuda_model(const Family& family, const std::string& model, std::int64_t batch, std::int64_t seq_len) {
  using traits = joule::tuning::family_traits<std::remove_cvref_t<decltype(family.config)>>;
  const std::string name = "models/" + model + "/batch:" + std::to_string(batch) + "/cuda/threads:1";
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    if (!joule::cuda::available()) {
      state.SkipWithError((std::string("cuda is unavailable here: ") + joule::cuda::unavailable_reason()).c_str());
      return;
    }
    const joule::compile_options options{.batch = batch, .image_size = 224, .seq_len = seq_len, .threads = 1};
    auto& s = slot();
    if (s.name != name) {
      s = {};
      const auto& w = weights_for(model, family.template instantiate<joule::scalar>().manifest());
      auto input = std::make_shared<const typename traits::input_data>(traits::make_input(family.config, options, 1));
      s.executor = std::shared_ptr<joule::tuning::candidate_instance>(
          joule::tuning::make_cuda_instance(family.config, w, options, input));
      s.input = std::const_pointer_cast<typename traits::input_data>(input);
      s.name = name;
    }
    auto& net = *std::static_pointer_cast<joule::tuning::candidate_instance>(s.executor);
    const auto before = net.transfers();
    {
      joule::energy::benchmark_meter energy(state, shared_meter(), "policy=cuda");
      for (auto _ : state) net.run();
      energy.stop();
    }
    const auto after = net.transfers();
    const auto iterations = static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
    state.counters["J/inference"] = state.counters["J/iter"].value / static_cast<double>(batch);
    state.counters["bytes_in/iter"] = static_cast<double>(after.to_device_bytes - before.to_device_bytes) / iterations;
    state.counters["bytes_out/iter"] = static_cast<double>(after.to_host_bytes - before.to_host_bytes) / iterations;
    state.SetItemsProcessed(state.iterations() * batch);
    joule_bench::set_gflops(state, net.flops());
  });
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
#endif

template <class Family>
void register_all_policies(const Family& family, const std::string& model, std::initializer_list<std::int64_t> batches,
                           std::int64_t seq_len = 128) {
  for (const auto batch : batches) {
    joule::compiled_policies::for_each([&]<class P>() { register_model<P>(family, model, batch, seq_len); });
#if JOULE_HAS_CUDA && JOULE_CUDA_CANDIDATES
    register_cuda_model(family, model, batch, seq_len);
#endif
  }
}

void register_all() {
  register_all_policies(joule::models::resnet_family{joule::models::resnet50_config()}, "resnet50", {1, 64});
  register_all_policies(joule::models::mobilenet_v2_family{joule::models::mobilenet_v2_default_config()},
                        "mobilenet_v2", {1, 64});
  register_all_policies(joule::models::bert_family{joule::models::bert_base_config()}, "bert-base", {1, 8}, 128);
  // Policies joule knows but this program has no kernels for (cuda: they need nvcc), listed with why.
  joule::known_policies::for_each([&]<class P>() {
    if constexpr (!joule::contains<joule::compiled_policies, P>::value) {
#if JOULE_HAS_CUDA && JOULE_CUDA_CANDIDATES
      if constexpr (std::is_same_v<P, joule::cuda>) return;  // registered above, per model
#endif
      const std::string reason = P::available()
                                     ? std::string("its kernels are not compiled into this program (need nvcc)")
                                     : P::unavailable_reason();
      benchmark::RegisterBenchmark((std::string("models/all/") + P::name()).c_str(), [reason](benchmark::State& state) {
        state.SkipWithError(reason.c_str());
        for (auto _ : state) {
        }
      });
    }
  });
  benchmark::AddCustomContext("joule.energy_meter", shared_meter().label());
}

}  // namespace

JOULE_BENCHMARK_MAIN(register_all)
