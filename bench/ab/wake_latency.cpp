// How long a sleeping thread takes to wake on this machine: a worker waits on a condition
// variable; after 0-50 ms of idleness the main thread notifies it and spins until the worker has
// stored the time it woke. Also times a compute loop right after each idle period, to tell a slow
// wake-up from a slow core. (docs/results.md, 2026-12-04 afternoon: 7-50 us on the Emerald
// Rapids VM.)
//
//   c++ -O2 -std=c++20 bench/ab/wake_latency.cpp -o build/ab/wake_latency -lpthread && build/ab/wake_latency
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>
#include <algorithm>
using clk = std::chrono::steady_clock;
std::mutex m;
std::condition_variable cv;
int gen = 0;
std::atomic<long> woke{0};
double work(int n) {
  volatile double x = 1;
  for (int i = 0; i < n; ++i) x = x * 1.0000001 + 1e-9;
  return x;
}
int main() {
  std::thread w([] {
    int seen = 0;
    for (;;) {
      std::unique_lock l(m);
      cv.wait(l, [&] { return gen != seen; });
      seen = gen;
      if (gen < 0) return;
      l.unlock();
      woke.store(clk::now().time_since_epoch().count());
    }
  });
  for (int idle_ms : {0, 1, 2, 5, 10, 20, 50}) {
    std::vector<double> wake, comp;
    for (int r = 0; r < 30; ++r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
      // compute right after the sleep: frequency ramp?
      auto t0 = clk::now();
      work(200000);
      comp.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
      woke.store(0);
      auto t1 = clk::now();
      {
        std::lock_guard l(m);
        ++gen;
      }
      cv.notify_one();
      while (woke.load() == 0) {
      }
      wake.push_back((woke.load() - t1.time_since_epoch().count()) / 1000.0);
    }
    std::sort(wake.begin(), wake.end());
    std::sort(comp.begin(), comp.end());
    std::printf("idle %2d ms: wake median %7.1f us (q3 %7.1f), 200k-step loop median %7.1f us (min %7.1f)\n", idle_ms,
                wake[15], wake[22], comp[15], comp[0]);
  }
  {
    std::lock_guard l(m);
    gen = -1;
  }
  cv.notify_one();
  w.join();
}
