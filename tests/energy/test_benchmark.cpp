// The Google Benchmark helper: counters "J/iter" and "W" and the energy label, read back through
// a reporter. The meter counts iterations (energy = 0.25 J x iterations), so J/iter is exact.
//
// Covered: one thread (J/iter = 0.25 exactly, W > 0, label "energy=measured (counting)"); a
// prefix kept in the label; an estimated meter labelled estimated; two threads, where only
// thread 0 reads the meter and J/iter divides by both threads' iterations; a meter that fails
// skips the benchmark with its error. Built only where
// Google Benchmark is installed (JOULE_TEST_HAS_BENCHMARK), else the test is skipped.
#include <gtest/gtest.h>

#if JOULE_TEST_HAS_BENCHMARK
#include <benchmark/benchmark.h>

#include <joule/energy/benchmark.hpp>
#include <map>
#include <string>

#include "fake_meters.hpp"

namespace {

using namespace joule::energy;
using joule_test::counting_meter;

struct captured {
  double joules_per_iteration = -1;
  double watts = -1;
  std::string label;
};

class capturing_reporter final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      captured c;
      if (auto it = run.counters.find("J/iter"); it != run.counters.end()) c.joules_per_iteration = it->second.value;
      if (auto it = run.counters.find("W"); it != run.counters.end()) c.watts = it->second.value;
      c.label = run.report_label;
      results[run.benchmark_name()] = c;
    }
  }
  std::map<std::string, captured> results;
};

std::map<std::string, captured> run_benchmarks() {
  static bool initialised = [] {
    int argc = 1;
    char name[] = "energy_benchmark";
    char* argv[] = {name, nullptr};
    benchmark::Initialize(&argc, argv);
    return true;
  }();
  (void)initialised;
  capturing_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::ClearRegisteredBenchmarks();
  return reporter.results;
}

TEST(Benchmark, CountersAndLabel) {
  counting_meter measured(0.25);
  counting_meter estimated(0.25, meter_kind::estimated);
  benchmark::RegisterBenchmark("measured", [&](benchmark::State& state) {
    benchmark_meter energy(state, measured);
    for (auto _ : state) measured.count();
  })->Iterations(10);
  benchmark::RegisterBenchmark("prefixed", [&](benchmark::State& state) {
    benchmark_meter energy(state, estimated, "simd");
    for (auto _ : state) estimated.count();
  })->Iterations(10);
  const auto results = run_benchmarks();

  ASSERT_EQ(results.count("measured/iterations:10"), 1u);
  const captured& m = results.at("measured/iterations:10");
  EXPECT_DOUBLE_EQ(m.joules_per_iteration, 0.25);
  EXPECT_GT(m.watts, 0.0);
  EXPECT_EQ(m.label, "energy=measured (counting)");

  ASSERT_EQ(results.count("prefixed/iterations:10"), 1u);
  EXPECT_EQ(results.at("prefixed/iterations:10").label, "simd energy=estimated (counting)");
}

TEST(Benchmark, OnlyThreadZeroReadsTheMeter) {
  counting_meter m(0.25);
  benchmark::RegisterBenchmark("threads",
                               [&](benchmark::State& state) {
                                 benchmark_meter energy(state, m);
                                 for (auto _ : state) m.count();
                               })
      ->Iterations(10)
      ->Threads(2);
  const auto results = run_benchmarks();
  ASSERT_EQ(results.size(), 1u);
  const captured& c = results.begin()->second;
  EXPECT_DOUBLE_EQ(c.joules_per_iteration, 0.25) << "20 iterations over two threads, 5 J";
  EXPECT_EQ(c.label, "energy=measured (counting)");
}

/** @brief A meter whose sensor is gone. */
class broken_meter final : public meter {
 public:
  [[nodiscard]] std::string name() const override { return "broken"; }
  [[nodiscard]] std::vector<domain_info> domains() const override { return {{"cpu", meter_kind::measured, true, ""}}; }
  energy_reading read() override { throw joule::error("broken meter: sensor gone"); }
  [[nodiscard]] meter_resolution resolution() const override { return {}; }
};

TEST(Benchmark, FailingMeterSkipsTheBenchmark) {
  broken_meter m;
  int iterations = 0;
  benchmark::RegisterBenchmark("broken", [&](benchmark::State& state) {
    benchmark_meter energy(state, m);
    for (auto _ : state) ++iterations;
  })->Iterations(10);
  const auto results = run_benchmarks();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results.begin()->second.joules_per_iteration, -1.0) << "no counters from a failed meter";
  EXPECT_EQ(iterations, 0) << "the benchmark is skipped with the meter's error";
}

}  // namespace

#else

TEST(Benchmark, NeedsGoogleBenchmark) { GTEST_SKIP() << "Google Benchmark is not installed; the helper is not tested"; }

#endif
