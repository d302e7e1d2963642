// How long the threads of a model's forks wait for one another: every fork of thread_pool timed
// index by index (bench/ab/fork_gaps.sh patches the timers into a copy of include/; joule itself
// has none), and the gap between the first and the last index to finish summed over a run. A fork
// whose work were shared perfectly would end both threads at once; half of a run's summed gap is
// what any rebalancing could give back.
//
//   bash bench/ab/fork_gaps.sh [MODEL] [RUNS] [TOP]    # default resnet50 100 12
//
// Prints the run's time, the summed gaps, and the TOP forks by gap (each fork's position in the
// run, its slower index's time, its gap, and how often index 0 was the slower one: near 0 or
// 100% is a lopsided split, near 50% the host's noise), each with the function whose job it ran
// (the job's lambda type, demangled and cut to its enclosing function).
#include <cxxabi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "model_runner.cpp"

/** @brief The function a fork's job lambda was written in: its demangled type up to "::{lambda". */
std::string job_of(const char* mangled) {
  int status = 0;
  char* name = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string s = status == 0 && name ? name : mangled;
  std::free(name);
  const std::size_t lambda = s.find("::{lambda");
  if (lambda != std::string::npos) s.resize(lambda);
  const std::size_t args = s.find('(');  // drop the parameter list
  if (args != std::string::npos) s.resize(args);
  return s;
}

int main(int argc, char** argv) {
  const std::string model = argc > 1 ? argv[1] : "resnet50";
  const int runs = argc > 2 ? std::atoi(argv[2]) : 100;
  const int top = argc > 3 ? std::atoi(argv[3]) : 12;
  auto run = make_runner_new(model, 1, 0);
  if (!run) {
    std::fprintf(stderr, "fork_gaps: unknown model %s\n", model.c_str());
    return 2;
  }
  for (int i = 0; i < 5; ++i) run();
  // Forks per run, counted over one run.
  joule::fork_gaps::reset();
  run();
  const std::size_t forks = joule::fork_gaps::forks.size();
  std::vector<std::string> job(forks);
  for (std::size_t i = 0; i < forks; ++i) job[i] = job_of(joule::fork_gaps::forks[i].body);
  joule::fork_gaps::reset();
  std::vector<double> gap_ms(forks), slower_ms(forks), first_slower(forks);
  double wall = 0;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run();
    wall += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const auto& f = joule::fork_gaps::forks;
    if (f.size() != forks) {
      std::fprintf(stderr, "fork_gaps: run %d forked %zu times, the first %zu\n", r, f.size(), forks);
      return 1;
    }
    for (std::size_t i = 0; i < forks; ++i) {
      gap_ms[i] += f[i].gap_ns / 1e6;
      slower_ms[i] += f[i].slower_ns / 1e6;
      first_slower[i] += f[i].first_slower ? 1 : 0;
    }
    joule::fork_gaps::reset();
  }
  double gaps = 0, busy = 0;
  for (std::size_t i = 0; i < forks; ++i) gaps += gap_ms[i] / runs, busy += slower_ms[i] / runs;
  std::printf(
      "%s batch 1: %.2f ms a run (mean of %d), %zu forks, their slower index %.2f ms in all, "
      "summed gaps %.3f ms (%.1f%% of the run)\n",
      model.c_str(), wall / runs, runs, forks, busy, gaps, 100 * gaps / (wall / runs));
  std::vector<std::size_t> order(forks);
  for (std::size_t i = 0; i < forks; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return gap_ms[a] > gap_ms[b]; });
  for (int k = 0; k < top && k < static_cast<int>(forks); ++k) {
    const std::size_t i = order[static_cast<std::size_t>(k)];
    std::printf("  fork %3zu: slower index %.3f ms, gap %.3f ms (%4.1f%%), index 0 the slower in %3.0f%% of runs: %s\n",
                i, slower_ms[i] / runs, gap_ms[i] / runs, 100 * gap_ms[i] / slower_ms[i], 100 * first_slower[i] / runs,
                job[i].c_str());
  }
}
