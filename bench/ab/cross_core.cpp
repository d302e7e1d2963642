// What a cache line written by the other core costs on this machine: the one-way latency of a line
// bounced between two threads pinned to CPUs 0 and 1, and the rate at which one core reads 512 KB
// (half an L2) that the other core has just written, against the same read of what it wrote
// itself. The CPU policies split consecutive layers the same way so that each thread reads what it
// wrote (core/thread_pool.hpp); this measures what a layer pays when it does not.
//
//   c++ -std=gnu++20 -O2 -pthread bench/ab/cross_core.cpp -o build/ab/cross_core && build/ab/cross_core
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {
void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Reads one float per cache line, eight independent sums so that many lines are in flight.
float read_lines(const std::vector<float>& buffer) {
  float sums[8] = {};
  for (std::size_t i = 0; i + 128 <= buffer.size(); i += 128)
    for (int k = 0; k < 8; ++k) sums[k] += buffer[i + 16 * k];
  float total = 0;
  for (float s : sums) total += s;
  return total;
}
}  // namespace

int main() {
  alignas(64) static std::atomic<int> flag{0};
  constexpr int kBounces = 200000;
  std::thread other([] {
    pin_to(1);
    for (int i = 0; i < kBounces; ++i) {
      while (flag.load(std::memory_order_acquire) != 2 * i + 1) {
      }
      flag.store(2 * i + 2, std::memory_order_release);
    }
  });
  pin_to(0);
  const double start = now_us();
  for (int i = 0; i < kBounces; ++i) {
    flag.store(2 * i + 1, std::memory_order_release);
    while (flag.load(std::memory_order_acquire) != 2 * i + 2) {
    }
  }
  const double bounce_ns = (now_us() - start) * 1e3 / kBounces / 2;
  other.join();
  std::printf("a line from the other core: %.0f ns one way\n", bounce_ns);

  std::vector<float> buffer(std::size_t{1} << 17);  // 512 KB
  constexpr int kRounds = 200;
  std::atomic<int> turn{0};
  float sink = 0;
  double remote_us = 0, local_us = 0;
  std::thread writer([&] {
    pin_to(1);
    for (int r = 0; r < kRounds; ++r) {
      while (turn.load() != 2 * r + 1) {
      }
      for (auto& x : buffer) x += 1.f;
      turn.store(2 * r + 2);
    }
  });
  for (int r = 0; r < kRounds; ++r) {
    turn.store(2 * r + 1);
    while (turn.load() != 2 * r + 2) {
    }
    const double t0 = now_us();
    sink += read_lines(buffer);
    remote_us += now_us() - t0;
  }
  writer.join();
  for (int r = 0; r < kRounds; ++r) {
    for (auto& x : buffer) x += 1.f;
    const double t0 = now_us();
    sink += read_lines(buffer);
    local_us += now_us() - t0;
  }
  const double bytes = static_cast<double>(buffer.size() * sizeof(float));
  std::printf("512 KB written by the other core: %.1f us (%.0f GB/s)\n", remote_us / kRounds,
              bytes / (remote_us / kRounds) / 1e3);
  std::printf("512 KB written by this core:      %.1f us (%.0f GB/s)%s\n", local_us / kRounds,
              bytes / (local_us / kRounds) / 1e3, sink < 0 ? " " : "");
}
