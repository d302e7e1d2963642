// MobileNetV2's blocks timed inside the whole model (simd policy, random weights): each block's
// milliseconds per image, summed over the threads that ran it, as the model runs it (at batch 2
// and up on two threads each thread takes whole images alone, so a block's time per image is
// one thread's time on it). Set beside ONNX Runtime's profile (bench/ab/ort_profile.js), whose
// nodes run on both threads at once: halve this tool's per-image times to compare.
// The timers are not in joule: bench/ab/mobilenet_v2_in_model.sh copies include/ and adds them
// to the copy's models/mobilenet_v2.hpp, then builds this file against it.
//
//   bash bench/ab/mobilenet_v2_in_model.sh [BATCH] [RUNS] [THREADS]    # e.g. 64 3, 1 100
#include <joule/joule.hpp>
#include <joule/choose/family.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
using namespace joule;

int main(int argc, char** argv) {
  const int batch = argc > 1 ? std::atoi(argv[1]) : 64, runs = argc > 2 ? std::atoi(argv[2]) : 3;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const std::int64_t band_bytes = argc > 4 ? std::atoll(argv[4]) : 0;  // 0: the model's default
  const compile_options options{.batch = batch, .threads = threads, .band_bytes = band_bytes};
  const models::mobilenet_v2_family family{models::mobilenet_v2_default_config()};
  const auto weights = random_weights(family.instantiate<scalar>().manifest(), 0);
  executor<models::mobilenet_v2<simd>> net(family.instantiate<simd>(), weights, options);
  const auto input = tuning::family_traits<models::mobilenet_v2_config>::make_input(family.config, options, 1);
  for (int i = 0; i < 2; ++i) net.run(input.view());  // warm-up, then count from zero
  g_layer_ms.clear();
  g_layer_order.clear();
  // JOULE_AB_PAUSE_MS=N: N ms of idleness before each run (not counted), as a server's runs follow idleness.
  const char* pause_env = std::getenv("JOULE_AB_PAUSE_MS");
  const std::chrono::milliseconds pause{pause_env ? std::atoi(pause_env) : 0};
  double total = 0;
  for (int i = 0; i < runs; ++i) {
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
    const auto start = std::chrono::steady_clock::now();
    net.run(input.view());
    total += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  const double images = static_cast<double>(runs) * batch;
  double layers = 0;
  for (const auto& name : g_layer_order) {
    std::printf("%-10s %7.4f\n", name.c_str(), g_layer_ms[name] / images);
    layers += g_layer_ms[name] / images;
  }
  std::printf("layers %.3f ms a image (thread time), whole run %.2f ms (batch %d, mean of %d runs)\n", layers,
              total / runs, batch, runs);
}
