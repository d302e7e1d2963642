// The machine's measured fp32 FMA peak: independent chains of vector FMAs (enough to cover the
// FMA latency on two pipes), per core and on every core at once. The GFLOP/s this prints is the
// "peak" every other number in docs/results.md is a fraction of.
//
//   build/release/bench/bench_peak
#include <thread>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "bench_common.hpp"

namespace {

using batch = xsimd::batch<float>;
constexpr int kChains = 12;  // 2 FMA pipes x 4-cycle latency, plus margin
constexpr std::int64_t kSteps = 1 << 16;

float fma_chains(float seed) {
  batch acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = batch(seed + c);
  const batch x(0.999999f), y(1e-7f);
  for (std::int64_t s = 0; s < kSteps; ++s)
    for (int c = 0; c < kChains; ++c) acc[c] = xsimd::fma(acc[c], x, y);
  batch sum(0.f);
  for (int c = 0; c < kChains; ++c) sum += acc[c];
  return xsimd::hadd(sum);
}

constexpr double kFlopsPerCall = 2.0 * kChains * kSteps * batch::size;
constexpr int kRepeatsPerThread = 32;

void peak_one_core(benchmark::State& state) {
  float sink = 0;
  for (auto _ : state) benchmark::DoNotOptimize(sink += fma_chains(sink));
  joule_bench::set_gflops(state, kFlopsPerCall);
}

void peak_all_cores(benchmark::State& state) {
  const int cores = joule::hardware_threads();
  for (auto _ : state) {
    std::vector<std::thread> threads;
    std::vector<float> sinks(cores);
    // Many chains per thread, so that starting the threads is a negligible part of the time.
    for (int t = 0; t < cores; ++t)
      threads.emplace_back([&, t] {
        for (int r = 0; r < kRepeatsPerThread; ++r) sinks[t] += fma_chains(float(t + r));
      });
    for (auto& th : threads) th.join();
    benchmark::DoNotOptimize(sinks.data());
  }
  joule_bench::set_gflops(state, kFlopsPerCall * kRepeatsPerThread * cores);
}

void register_all() {
  benchmark::RegisterBenchmark("peak/fma_one_core", peak_one_core)->Unit(benchmark::kMicrosecond)->UseRealTime();
  benchmark::RegisterBenchmark("peak/fma_all_cores", peak_all_cores)->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

JOULE_BENCHMARK_MAIN(register_all)
