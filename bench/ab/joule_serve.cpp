// joule's side of scripts/vs-ort-paired.sh: one executor of the simd policy (bench/ab/model_runner.cpp,
// random weights) on MODEL at BATCH, run once for each line read on stdin; each run's milliseconds
// are printed on a line of their own. Prints "ready" after two warm-up runs.
//
//   build/ab/joule_serve resnet50 1
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>

std::function<void()> make_runner_new(const std::string& model, int batch, int images_at_once);

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL BATCH\n", argv[0]);
    return 2;
  }
  const int batch = std::atoi(argv[2]);
  const auto run = batch >= 1 ? make_runner_new(argv[1], batch, 0) : std::function<void()>{};
  if (!run) {
    std::fprintf(stderr, "unknown model '%s' or batch < 1\n", argv[1]);
    return 2;
  }
  run();
  run();
  std::printf("ready\n");
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line);) {
    if (line.empty()) continue;
    const auto start = std::chrono::steady_clock::now();
    run();
    std::printf("%.3f\n", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    std::fflush(stdout);
  }
}
