#pragma once
/**
 * @file benchmark.hpp
 * @brief Energy counters for Google Benchmark: "J/iter", "W" and a label naming the meter's kind.
 *
 * Include it only where Google Benchmark is available (it includes <benchmark/benchmark.h>):
 *
 *     static void bm_gemm(benchmark::State& state) {
 *       // ... set-up ...
 *       joule::energy::benchmark_meter energy(state, meter);   // reads the meter
 *       for (auto _ : state) run_once();
 *     }                                                          // reads again, adds the counters
 *
 * Only thread 0 of a multi-threaded benchmark reads the meter (meters see the whole package or
 * device); J/iter divides by the iterations of all threads. The label is
 * "energy=measured (rapl)" or "energy=estimated (estimate)", after an optional prefix (SetLabel
 * replaces any earlier label, so pass the benchmark's own label as the prefix).
 */
#include <benchmark/benchmark.h>

#include <exception>
#include <joule/energy/meter.hpp>
#include <optional>
#include <string>
#include <utility>

namespace joule::energy {

/** @brief "energy=measured (rapl)": the label of figures read between two readings of @p m. */
inline std::string energy_label(const meter& m, meter_kind kind) {
  return "energy=" + std::string(to_string(kind)) + " (" + m.name() + ")";
}

/**
 * @brief Adds "J/iter" (joules per iteration, all threads' iterations) and "W" (average watts over
 * the two readings) to @p state, and sets the label to @p label_prefix followed by energy_label().
 */
inline void add_energy_counters(benchmark::State& state, const meter& m, const energy_reading& before,
                                const energy_reading& after, const std::string& label_prefix = {}) {
  const double iterations = static_cast<double>(state.iterations()) * static_cast<double>(state.threads());
  const double joules = joules_between(before, after);
  const double elapsed = seconds_between(before, after);
  state.counters["J/iter"] = benchmark::Counter(iterations > 0 ? joules / iterations : 0.0);
  state.counters["W"] = benchmark::Counter(elapsed > 0 ? joules / elapsed : 0.0);
  const meter_kind kind = combine(before.kind(), after.kind());
  state.SetLabel(label_prefix.empty() ? energy_label(m, kind) : label_prefix + " " + energy_label(m, kind));
}

/**
 * @brief Reads the meter when constructed and again when destroyed (or at stop()), then adds the
 * energy counters. Polls the meter on a sampling_thread meanwhile if it needs polling.
 */
class benchmark_meter {
 public:
  benchmark_meter(benchmark::State& state, meter& m, std::string label_prefix = {})
      : state_(state), meter_(m), label_prefix_(std::move(label_prefix)), active_(state.thread_index() == 0) {
    if (!active_) return;
    try {
      before_ = m.read();
    } catch (const std::exception& e) {
      // A meter that fails here cannot give figures; the benchmark is reported as an error.
      active_ = false;
      state.SkipWithError(e.what());
      return;
    }
    poller_.emplace(m, m.poll_interval());
  }
  benchmark_meter(const benchmark_meter&) = delete;
  benchmark_meter& operator=(const benchmark_meter&) = delete;
  ~benchmark_meter() {
    try {
      stop();
    } catch (const std::exception& e) {
      state_.SkipWithError(e.what());
    }
  }

  /** @brief Reads the meter and adds the counters now; later calls do nothing. */
  void stop() {
    if (!active_ || stopped_) return;
    stopped_ = true;
    const energy_reading after = meter_.read();
    poller_->stop();
    add_energy_counters(state_, meter_, before_, after, label_prefix_);
  }

 private:
  benchmark::State& state_;
  meter& meter_;
  std::string label_prefix_;
  bool active_;
  bool stopped_ = false;
  std::optional<sampling_thread> poller_;
  energy_reading before_;
};

}  // namespace joule::energy
