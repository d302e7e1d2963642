// ResNet-50's layers timed inside the whole model (simd policy, 2 threads, random weights): each
// layer's mean milliseconds per run, as the model runs it, with the activations, weights and
// scratch wherever the layers before left them (bench/ab/resnet50_layers.cpp times a layer alone).
// The timers are not in joule: bench/ab/resnet50_in_model.sh copies include/ and adds them to the
// copy's models/resnet.hpp, then builds this file against it.
//
//   bash bench/ab/resnet50_in_model.sh [BATCH] [RUNS]    # e.g. 1 40, 8 6
#include <joule/joule.hpp>
#include <joule/choose/family.hpp>
#include <joule/models/resnet.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
using namespace joule;

int main(int argc, char** argv) {
  const int batch = argc > 1 ? std::atoi(argv[1]) : 1, runs = argc > 2 ? std::atoi(argv[2]) : 40;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const compile_options options{.batch = batch, .threads = threads};
  const models::resnet_family family{models::resnet50_config()};
  const auto weights = random_weights(family.instantiate<scalar>().manifest(), 0);
  executor<models::resnet<simd>> net(family.instantiate<simd>(), weights, options);
  const auto input = tuning::family_traits<models::resnet_config>::make_input(family.config, options, 1);
  for (int i = 0; i < 3; ++i) net.run(input.view());  // warm-up, then count from zero
  g_layer_ms.clear();
  g_layer_order.clear();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) net.run(input.view());
  const double total = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  double layers = 0;
  for (const auto& name : g_layer_order) {
    std::printf("%-12s %7.3f\n", name.c_str(), g_layer_ms[name] / runs);
    layers += g_layer_ms[name] / runs;
  }
  std::printf("layers %.2f ms, whole run %.2f ms (batch %d, mean of %d runs)\n", layers, total / runs, batch, runs);
}
