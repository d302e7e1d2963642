// energy_check: joule's meters on the machine it runs on, for docs/energy.md. Not a test: its
// output depends on the machine. It prints the probe report; NVML's energy counter and NVML power
// integration read over the same windows (when NVML is there); and measure() of a CPU loop with
// the meter the probe chose. It also times how often NVML refreshes its energy counter and its
// power reading (the interval between observed changes when read every millisecond).
//
//   energy_check [window_seconds=3] [windows=3]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <joule/energy.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace joule::energy;

void compare_nvml_methods(double window_s, int windows) {
  std::unique_ptr<nvml_meter> counter, integrated;
  try {
    counter = std::make_unique<nvml_meter>();
    nvml_options o;
    o.force_power_integration = true;
    integrated = std::make_unique<nvml_meter>(o);
  } catch (const joule::error& e) {
    std::cout << "NVML comparison skipped: " << e.what() << "\n";
    return;
  }
  std::cout << "NVML: " << counter->description() << "\n";
  sampling_thread poller(*integrated, integrated->poll_interval());
  for (int w = 0; w < windows; ++w) {
    const energy_reading c0 = counter->read(), p0 = integrated->read();
    std::this_thread::sleep_for(seconds{window_s});
    const energy_reading c1 = counter->read(), p1 = integrated->read();
    const double jc = joules_between(c0, c1), jp = joules_between(p0, p1);
    std::cout << "  window " << w << ": energy counter " << jc << " J (" << jc / seconds_between(c0, c1)
              << " W), power integration " << jp << " J (" << jp / seconds_between(p0, p1) << " W), difference "
              << 100.0 * (jp - jc) / jc << "%\n";
  }
  poller.stop();
}

/** @brief Median seconds between changes of @p value(), read every millisecond for @p span_s. */
template <class F>
void time_refresh(const char* what, F value, double span_s) {
  std::vector<double> intervals;
  double last = value();
  auto last_change = steady_clock::now();
  const auto end = last_change + std::chrono::duration_cast<steady_clock::duration>(seconds{span_s});
  while (steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const double v = value();
    if (v != last) {
      const auto now = steady_clock::now();
      intervals.push_back(seconds(now - last_change).count());
      last_change = now;
      last = v;
    }
  }
  if (intervals.size() < 3) {
    std::cout << "  " << what << ": fewer than 3 changes in " << span_s << " s\n";
    return;
  }
  intervals.erase(intervals.begin());  // the first interval starts at an arbitrary time
  std::sort(intervals.begin(), intervals.end());
  std::cout << "  " << what << ": " << intervals.size() << " changes, interval median "
            << intervals[intervals.size() / 2] * 1000 << " ms, min " << intervals.front() * 1000 << " ms, max "
            << intervals.back() * 1000 << " ms\n";
}

void time_nvml_refresh(double span_s) {
  try {
    nvml_meter counter;
    std::cout << "NVML refresh, read every 1 ms for " << span_s << " s:\n";
    time_refresh(
        "energy counter", [&] { return counter.read().total_joules(); }, span_s);
    time_refresh(
        "power reading", [&] { return counter.power_watts("gpu:0"); }, span_s);
  } catch (const joule::error& e) {
    std::cout << "NVML refresh not timed: " << e.what() << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double window_s = argc > 1 ? std::stod(argv[1]) : 3.0;
  const int windows = argc > 2 ? std::stoi(argv[2]) : 3;

  probe_result p = probe();
  std::cout << p.report() << "\n";
  compare_nvml_methods(window_s, windows);
  time_nvml_refresh(2.0);

  measure_options o;
  o.budget = seconds{5};
  volatile double sink = 0;
  const measurement m = measure(
      *p.chosen,
      [&] {
        for (int i = 0; i < 200000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
      },
      o);
  std::cout << "\nmeasure() of a CPU loop (200k square roots a run):\n" << m.report();
}
