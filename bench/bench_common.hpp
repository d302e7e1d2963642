#pragma once
// What joule's Google Benchmark shootouts share: registering one benchmark per policy, the GFLOP/s
// counter, a context line naming the kernels that ran (simd arch, OpenBLAS kernel family), and for
// the model benchmarks the thread count, the one set of weights and the one executor held at a time.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <joule/core/context.hpp>
#include <joule/core/tensor.hpp>
#include <joule/core/thread_pool.hpp>
#include <joule/core/weights.hpp>
#include <joule/policy/policies.hpp>

namespace joule_bench {

/** @brief Sets the "GFLOP/s" counter from the floating-point operations of one iteration. */
inline void set_gflops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/** @brief A tensor of uniform values in [-1, 1), the same for every policy (fixed seed). */
inline joule::tensor<float> random_tensor(joule::shape s, std::uint64_t seed = 42) {
  joule::tensor<float> t(s);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (auto& x : t.span()) x = dist(rng);
  return t;
}

/** @brief Threads for a benchmark: JOULE_BENCH_THREADS, else every hardware thread. */
inline int bench_threads() {
  const char* env = std::getenv("JOULE_BENCH_THREADS");
  return env ? std::max(1, std::atoi(env)) : joule::hardware_threads();
}

/**
 * @brief Registers @p body once per CPU policy that can run here, named "<name>/<policy>".
 * body is a generic lambda taking (benchmark::State&, joule::context<P>&) with P deduced; the
 * context has @p threads threads, or bench_threads() when 0.
 */
template <class Body>
void register_for_each_policy(const std::string& name, Body body, int threads = 0) {
  joule::cpu_policies::for_each([&]<class P>() {
    if (!P::available()) return;
    benchmark::RegisterBenchmark((name + "/" + P::name()).c_str(),
                                 [body, threads](benchmark::State& state) {
                                   joule::context<P> ctx(threads != 0 ? threads : bench_threads());
                                   body(state, ctx);
                                   state.SetLabel(P::name());
                                 })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  });
}

/** @brief Adds the machine's kernel choices to the benchmark's context block (printed once). */
inline void add_kernel_context() {
  benchmark::AddCustomContext("joule.simd_arch", joule::simd::arch_name());
  benchmark::AddCustomContext("joule.openblas_kernel", joule::blas::kernel_name());
  const std::string note = joule::blas::kernel_note();
  if (!note.empty()) benchmark::AddCustomContext("joule.openblas_note", note);
}

/** @brief The random weights of one model at a time (seed 0): BERT-base's alone are 440 MB. */
inline const joule::weights& weights_for(const std::string& model, const std::vector<joule::weight_spec>& manifest) {
  static std::string held;
  static std::optional<joule::weights> w;
  if (held != model || !w) {
    w.reset();
    w = joule::random_weights(manifest, 0);
    held = model;
  }
  return *w;
}

/** @brief One compiled executor and its input at a time, kept while its benchmark runs again. */
struct executor_slot {
  std::string name;
  std::shared_ptr<void> executor, input;
};
inline executor_slot& slot() {
  static executor_slot s;
  return s;
}

}  // namespace joule_bench

/** @brief main() for a joule benchmark: registers via @p register_fn, then runs Google Benchmark. */
#define JOULE_BENCHMARK_MAIN(register_fn)                             \
  int main(int argc, char** argv) {                                   \
    joule_bench::add_kernel_context();                                \
    register_fn();                                                    \
    benchmark::Initialize(&argc, argv);                               \
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1; \
    benchmark::RunSpecifiedBenchmarks();                              \
    benchmark::Shutdown();                                            \
    return 0;                                                         \
  }
