// ResNet-50's convolutions one by one on the simd policy, each with the weight packing the model
// gives it, timed alone: median ms and GFLOP/s per layer, and the sum over the model's layers.
// COLD 1 evicts the caches (128 MB touched) before every call, then reads the layer's input back
// in, as the previous layer leaves it: the weights and the output come from memory, as they do
// in a whole-model run at batch 1, where the weights (about 100 MB) are read once per image.
// COLD 2 flushes only the layer's packed weight from every cache level (clflush) before each call:
// the cost of streaming the weight, with everything else (input, output, scratch, TLB) warm.
// COLD 3 also rewrites the input before each call, each thread its share of the channels (as the
// layer before leaves it in a model: half of it in the other core's L2).
// COLD 4 is COLD 1 with the output written before each call: its lines in cache, as a buffer the
// model used a layer before would leave them.
// COLD 6 is COLD 3 with the input rewritten by halves of every channel's plane, each thread the
// same half (as a layer before that split its pixels between the threads leaves it).
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude \
//       bench/ab/resnet50_layers.cpp -o build/ab/resnet50_layers
//   build/ab/resnet50_layers IMAGES COLD [NAME]  # e.g. 1 0, 1 1, 1 2, 1 3, 1 4, 1 6
//   (NAME: only the layers whose name holds it)
#include <joule/joule.hpp>

#include "ab_timing.hpp"

#include <chrono>
#include <immintrin.h>
#include <cstdio>
#include <random>
#include <algorithm>
#include <vector>
#include <string>
using namespace joule;
using joule_ab::median;
using ops::conv2d_packing;
int main(int argc, char** argv) {
  const int images = argc > 1 ? std::atoi(argv[1]) : 1;
  context<simd> ctx(std::getenv("THREADS") ? std::atoi(std::getenv("THREADS")) : 2);
  const int cold_mode = argc > 2 ? std::atoi(argv[2]) : 0;
  const bool cold = cold_mode == 1 || cold_mode == 4;
  const bool output_warm = cold_mode == 4;  // after the eviction, the output written
  const bool weights_cold = cold_mode == 2 || cold_mode == 3 || cold_mode == 6;  // the packed weight flushed
  const bool input_shared = cold_mode == 3;     // and the input rewritten, channels split between the threads
  const bool input_by_pixels = cold_mode == 6;  // or each channel's plane split in halves between them
  const std::string only = argc > 3 ? argv[3] : "";
  float sink = 0;
  std::vector<float> junk(cold ? 32 << 20 : 0);  // 128 MB touched between calls: evicts L2 and L3
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  struct L {
    std::string name;
    int cin, cout, k, stride, size, count;
    conv2d_packing how;
  };
  std::vector<L> ls = {
      {"stem 7x7/2", 3, 64, 7, 2, 224, 1, conv2d_packing::channels_as_rows},
      {"s1 1x1 64>64", 64, 64, 1, 1, 56, 1, conv2d_packing::channels_as_rows},
      {"s1 1x1 256>64", 256, 64, 1, 1, 56, 2, conv2d_packing::channels_as_rows},
      {"s1 3x3 64 F4", 64, 64, 3, 1, 56, 3, conv2d_packing::winograd_4x4_3x3},
      {"s1 1x1 64>256", 64, 256, 1, 1, 56, 3 + 1, conv2d_packing::channels_as_rows},
      {"s2 1x1 256>128", 256, 128, 1, 1, 56, 1, conv2d_packing::channels_as_rows},
      {"s2 3x3/2 128", 128, 128, 3, 2, 56, 1, conv2d_packing::channels_as_rows},
      {"s2 ds 256>512 /2", 256, 512, 1, 2, 56, 1, conv2d_packing::channels_as_rows},
      {"s2 1x1 512>128", 512, 128, 1, 1, 28, 3, conv2d_packing::channels_as_rows},
      {"s2 3x3 128 F4", 128, 128, 3, 1, 28, 3, conv2d_packing::winograd_4x4_3x3},
      {"s2 1x1 128>512", 128, 512, 1, 1, 28, 4, conv2d_packing::channels_as_rows},
      {"s3 1x1 512>256", 512, 256, 1, 1, 28, 1, conv2d_packing::pixels_as_rows},
      {"s3 3x3/2 256", 256, 256, 3, 2, 28, 1, conv2d_packing::pixels_as_rows},
      {"s3 ds 512>1024 /2", 512, 1024, 1, 2, 28, 1, conv2d_packing::pixels_as_rows},
      {"s3 1x1 1024>256", 1024, 256, 1, 1, 14, 5, conv2d_packing::pixels_as_rows},
      {"s3 3x3 256 F2", 256, 256, 3, 1, 14, 5, conv2d_packing::winograd_3x3},
      {"s3 1x1 256>1024", 256, 1024, 1, 1, 14, 6, conv2d_packing::pixels_as_rows},
      {"s4 1x1 1024>512", 1024, 512, 1, 1, 14, 1, conv2d_packing::pixels_as_rows},
      {"s4 3x3/2 512", 512, 512, 3, 2, 14, 1, conv2d_packing::pixels_as_rows},
      {"s4 ds 1024>2048 /2", 1024, 2048, 1, 2, 14, 1, conv2d_packing::pixels_as_rows},
      {"s4 1x1 2048>512", 2048, 512, 1, 1, 7, 2, conv2d_packing::pixels_as_rows},
      {"s4 3x3 512", 512, 512, 3, 1, 7, 2, images >= 2 ? conv2d_packing::winograd_3x3 : conv2d_packing::pixels_as_rows},
      {"s4 1x1 512>2048", 512, 2048, 1, 1, 7, 3, conv2d_packing::pixels_as_rows},
  };
  double total = 0, total_flops = 0;
  for (auto& l : ls) {
    if (l.name.find(only) == std::string::npos) continue;
    // The model packs the pixels as rows only for one image a call (nn::conv_bn_act::prepare).
    if (images > 1 && l.how == conv2d_packing::pixels_as_rows) l.how = conv2d_packing::channels_as_rows;
    const int pad = (l.k - 1) / 2, out = (l.size + 2 * pad - l.k) / l.stride + 1;
    tensor<float> x(shape{images, l.cin, l.size, l.size}), w(shape{l.cout, l.cin, l.k, l.k}), b(shape{l.cout}),
        y(shape{images, l.cout, out, out});
    for (auto& v : x.span()) v = u(rng);
    for (auto& v : w.span()) v = 0.05f * u(rng);
    tensor<float> p;
    switch (l.how) {
      case conv2d_packing::channels_as_rows:
        p = ops::pack_conv2d_weight<simd, conv2d_packing::channels_as_rows>(w.cview());
        break;
      case conv2d_packing::pixels_as_rows:
        p = ops::pack_conv2d_weight<simd, conv2d_packing::pixels_as_rows>(w.cview());
        break;
      case conv2d_packing::winograd_3x3:
        p = ops::pack_conv2d_weight<simd, conv2d_packing::winograd_3x3>(w.cview());
        break;
      default:
        p = ops::pack_conv2d_weight<simd, conv2d_packing::winograd_4x4_3x3>(w.cview());
    }
    const ops::conv2d_params prm{.stride_h = l.stride, .stride_w = l.stride, .pad_h = pad, .pad_w = pad};
    auto run = [&] {
      ops::conv2d(ctx, x.cview(), w.cview(), y.view(), prm, {.bias = b.cview(), .act = activation::relu},
                  {p.cview(), l.how});
    };
    for (int i = 0; i < 3; ++i) run();
    std::vector<double> t;
    for (int r = 0; r < 15; ++r) {
      double sum = 0;
      for (int i = 0; i < 5; ++i) {
        if (cold) {
          for (std::size_t j = 0; j < junk.size(); j += 16) junk[j] += 1.f;
          float acc = 0;  // the input back in cache, as the previous layer leaves it
          for (std::int64_t j = 0; j < x.numel(); j += 16) acc += x.data()[j];
          sink = sink + acc;
          if (output_warm)
            for (std::int64_t j = 0; j < y.numel(); j += 16) y.data()[j] = sink;
        }
        // Floats [j0, j1) of the input rewritten (sink · 0 is not a constant: the stores stay).
        const std::int64_t plane = std::int64_t{l.size} * l.size, planes = x.numel() / plane;
        const auto rewrite = [&](std::int64_t j0, std::int64_t j1) {
          for (std::int64_t j = j0; j < j1; ++j) x.data()[j] += sink * 0.f;
        };
        if (input_shared)
          // As the layer before leaves it: each thread wrote its share of the channels, which sit
          // in that core's L2. Planes (image, channel), so that several images split as one would.
          ctx.parallel_for(planes, 1, [&](std::int64_t p0, std::int64_t p1) { rewrite(p0 * plane, p1 * plane); });
        if (input_by_pixels)
          // Half t of every plane by thread t.
          ctx.parallel_for(2, 1, [&](std::int64_t t0, std::int64_t t1) {
            for (std::int64_t t = t0; t < t1; ++t)
              for (std::int64_t c = 0; c < planes; ++c)
                rewrite(c * plane + t * plane / 2, c * plane + (t + 1) * plane / 2);
          });
        if (weights_cold) {
          for (std::int64_t j = 0; j < p.numel(); j += 16) _mm_clflush(p.data() + j);
          _mm_mfence();
        }
        const auto s = std::chrono::steady_clock::now();
        run();
        sum += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
      }
      t.push_back(sum / 5);
    }
    const double ms = median(t), flops = 2.0 * images * l.cout * l.cin * l.k * l.k * out * out;
    total += ms * l.count;
    total_flops += flops * l.count;
    std::printf("%-20s x%d  %7.3f ms  %5.0f GFLOP/s  (all %d: %6.2f ms)\n", l.name.c_str(), l.count, ms,
                flops / ms / 1e6, l.count, ms * l.count);
  }
  std::printf("total %.2f ms, %.2f GFLOP, %.0f GFLOP/s%s\n", total, total_flops / 1e9, total_flops / total / 1e6,
              sink < 0 ? " " : "");  // sink: keeps the reads of the input
}
