// A chain of ResNet-50's identity bottleneck blocks of one stage (no stem, no downsample), built from
// nn::conv_bn_act with the specs models/resnet.hpp gives that stage, run on the simd policy: the
// stage's layers as the model runs them, without the rest of the model, to set beside ONNX Runtime
// on the same chain (bench/ab/chain_export.py, bench/ab/chain_ort.js). Both start with an entry
// layer (a 1x1 from and to the blocks' width, ReLU; see chain_export.py): BLOCKS 0 times it alone,
// to subtract. NO3X3 1 leaves the 3x3 out (conv1 straight into conv3: the 1x1 layers alone).
// Prints the median of ROUNDS rounds' mean milliseconds per run; with LAYERS=1, also each layer's
// mean milliseconds (summed over the blocks), timed around its forward.
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude -Ibench/ab \
//       bench/ab/chain.cpp -o build/ab/chain -lpthread
//   build/ab/chain STAGE BLOCKS [NO3X3] [THREADS] [ROUNDS] [RUNS]
//   LAYERS=1 build/ab/chain 2 5       # ResNet-50's stage 3 (STAGE counts from 0): its five identity blocks
//   build/ab/chain 2 0                # its entry layer alone
// beside, for ONNX Runtime (python3-torch and onnxruntime-node as ../shared/peers/run-ort.sh sets them up):
//   /usr/bin/python3 bench/ab/chain_export.py 256 14 5 /tmp/chain/s3.onnx   # WIDTH 64 << STAGE, SIZE 56 >> STAGE
//   NODE_PATH=/tmp/joule-peers/ort/node_modules node bench/ab/chain_ort.js /tmp/chain/s3.onnx
#include <joule/joule.hpp>
#include <joule/nn/conv_bn_act.hpp>

#include "ab_timing.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
using namespace joule;

int main(int argc, char** argv) {
  const int stage = argc > 1 ? std::atoi(argv[1]) : 2, blocks = argc > 2 ? std::atoi(argv[2]) : 5;
  const bool no_3x3 = argc > 3 && std::atoi(argv[3]) != 0;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2, rounds = argc > 5 ? std::atoi(argv[5]) : 15,
            runs = argc > 6 ? std::atoi(argv[6]) : 20;
  const std::int64_t width = 64 << stage, out = 4 * width, size = 56 >> stage;
  // As models/resnet.hpp specifies a stride-1 block of this stage.
  const bool small_planes = stage >= 2, small_3x3 = stage == 3;
  struct block {
    nn::conv_bn_act<simd> conv1, conv2, conv3;
  };
  std::vector<block> chain;
  std::vector<weight_spec> manifest;
  nn::conv_bn_act<simd> entry({"entry", "entry.bn", out, out, 1, 1, 1, activation::relu, small_planes});
  entry.add_to_manifest(manifest);
  for (int i = 0; i < blocks; ++i) {
    const std::string name = "b" + std::to_string(i);
    using layer = nn::conv_bn_act<simd>;
    block b{layer({name + ".conv1", name + ".bn1", out, width, 1, 1, 1, activation::relu, small_planes}),
            layer({name + ".conv2", name + ".bn2", width, width, 3, 1, 1, activation::relu, small_3x3,
                   stage == 3 ? 2 : 1, stage <= 1 ? 4 : 2, stage == 2 ? 2 : 0}),
            layer({name + ".conv3", name + ".bn3", width, out, 1, 1, 1, activation::relu, small_planes})};
    b.conv1.add_to_manifest(manifest);
    b.conv2.add_to_manifest(manifest);
    b.conv3.add_to_manifest(manifest);
    chain.push_back(std::move(b));
  }
  const weights w = random_weights(manifest, 0);
  entry.prepare(w);
  for (auto& b : chain) {
    b.conv1.prepare(w);
    b.conv2.prepare(w);
    b.conv3.prepare(w);
  }
  context<simd> ctx(threads);
  tensor<float> input(shape{1, out, size, size}), x(input.shape()), y(x.shape()), mid1(shape{1, width, size, size}),
      mid2(mid1.shape());
  for (auto& v : input.span()) v = 0.5f;
  const bool per_layer = std::getenv("LAYERS") && std::atoi(std::getenv("LAYERS")) != 0;
  double layer_ms[4] = {};  // entry, conv1, conv2, conv3
  auto timed = [&](int layer, auto f) {
    if (!per_layer) return f();
    const auto start = std::chrono::steady_clock::now();
    f();
    layer_ms[layer] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  auto run = [&] {
    timed(0, [&] { entry.forward(ctx, input.cview(), x.view()); });
    tensor<float>*in = &x, *res = &y;
    for (const auto& b : chain) {
      timed(1, [&] { b.conv1.forward(ctx, in->cview(), mid1.view()); });
      if (!no_3x3) timed(2, [&] { b.conv2.forward(ctx, mid1.cview(), mid2.view()); });
      timed(3, [&] { b.conv3.forward(ctx, (no_3x3 ? mid1 : mid2).cview(), res->view(), in->cview()); });
      std::swap(in, res);
    }
  };
  for (int i = 0; i < 5; ++i) run();
  for (double& ms : layer_ms) ms = 0;
  std::vector<double> means;
  for (int r = 0; r < rounds; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; ++i) run();
    means.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / runs);
  }
  std::printf("joule stage %d, %d blocks%s, %d threads: %.3f ms a run (median of %d rounds of %d)\n", stage + 1, blocks,
              no_3x3 ? " without the 3x3" : "", threads, joule_ab::median(means), rounds, runs);
  if (per_layer)
    std::printf("  entry %.3f ms, conv1 %.3f, conv2 %.3f, conv3 %.3f (means a run, all blocks)\n",
                layer_ms[0] / (rounds * runs), layer_ms[1] / (rounds * runs), layer_ms[2] / (rounds * runs),
                layer_ms[3] / (rounds * runs));
}
