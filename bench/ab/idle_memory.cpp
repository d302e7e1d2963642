// Memory read speed right after idleness: a strided read (one float a cache line) of 1-64 MB,
// back to back and after 20 ms asleep before each read. (docs/results.md, 2026-12-04 afternoon:
// on the Emerald Rapids VM 10-13 GB/s after idleness against 25-86 GB/s back to back.)
//
//   c++ -O2 bench/ab/idle_memory.cpp -o build/ab/idle_memory -lpthread && build/ab/idle_memory
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>
#include <algorithm>
#include <numeric>
using clk = std::chrono::steady_clock;
int main() {
  for (size_t mb : {1, 4, 14, 64}) {
    std::vector<float> a(mb << 18, 1.0f);
    for (int pause : {0, 20, 0, 20}) {
      std::vector<double> t;
      for (int r = 0; r < 40; ++r) {
        if (pause) std::this_thread::sleep_for(std::chrono::milliseconds(pause));
        auto s = clk::now();
        float acc = 0;
        for (size_t i = 0; i < a.size(); i += 16) acc += a[i];
        t.push_back(std::chrono::duration<double, std::micro>(clk::now() - s).count());
        if (acc == 0.5f) std::puts("");
      }
      std::sort(t.begin(), t.end());
      std::printf("%3zu MB pause %2d ms: median %8.1f us (%.1f GB/s)\n", mb, pause, t[20],
                  mb * 1048576.0 / t[20] / 1e3);
    }
  }
}
