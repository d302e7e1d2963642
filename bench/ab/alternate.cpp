// The A/B program's main (scripts/ab-models.sh): runs the old and the new executor alternately,
// one run each per round, so that both see the same moments of a noisy host, and prints each
// side's median and the median of the per-round ratios new / old with its quartiles.
// JOULE_AB_PAUSE_MS=N sleeps N ms before each run: runs that follow idleness, as a server's do.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

std::function<void()> make_runner_old(const std::string& model, int batch, int images_at_once);
std::function<void()> make_runner_new(const std::string& model, int batch, int images_at_once);

namespace {
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL BATCH ROUNDS [IMAGES_AT_ONCE]\n", argv[0]);
    return 2;
  }
  const std::string model = argv[1];
  const int batch = std::atoi(argv[2]), rounds = std::atoi(argv[3]), images_at_once = argc > 4 ? std::atoi(argv[4]) : 0;
  if (batch < 1 || rounds < 1 || images_at_once < 0) {
    std::fprintf(stderr, "BATCH and ROUNDS must be >= 1, IMAGES_AT_ONCE >= 0\n");
    return 2;
  }
  const std::function<void()> runners[2] = {make_runner_old(model, batch, images_at_once),
                                            make_runner_new(model, batch, images_at_once)};
  if (!runners[0] || !runners[1]) {
    std::fprintf(stderr, "unknown model '%s' (resnet50, mobilenet_v2 or bert-base)\n", model.c_str());
    return 2;
  }
  for (const auto& run : runners) run();  // warm-up: first-run allocations, caches
  const char* pause_env = std::getenv("JOULE_AB_PAUSE_MS");
  const std::chrono::milliseconds pause{pause_env ? std::atoi(pause_env) : 0};
  std::vector<double> ms[2], ratio;
  for (int round = 0; round < rounds; ++round) {
    for (int side = 0; side < 2; ++side) {
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
      const auto start = std::chrono::steady_clock::now();
      runners[side]();
      ms[side].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    ratio.push_back(ms[1].back() / ms[0].back());
  }
  std::printf("%s batch %d, %d rounds, simd, 2 threads, %d ms idle before each run\n", model.c_str(), batch, rounds,
              static_cast<int>(pause.count()));
  std::printf("old: median %.2f ms (min %.2f)\n", quantile(ms[0], 0.5), quantile(ms[0], 0));
  std::printf("new: median %.2f ms (min %.2f)\n", quantile(ms[1], 0.5), quantile(ms[1], 0));
  std::printf("new / old per round: median %.3f (quartiles %.3f, %.3f)\n", quantile(ratio, 0.5), quantile(ratio, 0.25),
              quantile(ratio, 0.75));
}
