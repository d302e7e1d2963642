// BERT-base's four linear layers as simd GEMMs, B packed ahead as nn::linear packs its weight, at
// ROWS rows (128 tokens a sequence: 1024 rows for 8 sequences): median ms and GFLOP/s per layer
// over REPS calls, and the sum. Against bench_peak's GFLOP/s, this is the GEMM's efficiency at the
// shapes that hold 85% of BERT-base's time at batch 8.
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude \
//       bench/ab/bert_linear.cpp -o build/ab/bert_linear
//   build/ab/bert_linear THREADS ROWS REPS      # e.g. 1 1024 10, 2 1024 10
//
// To compare two versions of the headers, build one binary per include/ and run them in turn.
#include <joule/joule.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

int main(int argc, char** argv) {
  using clock = std::chrono::steady_clock;
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const std::int64_t rows = argc > 2 ? std::atoll(argv[2]) : 1024;
  const int reps = argc > 3 ? std::max(1, std::atoi(argv[3])) : 10;
  joule::context<joule::simd> ctx(threads);
  struct layer {
    const char* name;
    std::int64_t out, in;
  };
  const layer layers[] = {{"qkv", 2304, 768}, {"attn_out", 768, 768}, {"ffn_up", 3072, 768}, {"ffn_down", 768, 3072}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  double total_ms = 0;
  for (const layer& l : layers) {
    joule::tensor<float> x(joule::shape{rows, l.in}), w(joule::shape{l.out, l.in}), bias(joule::shape{l.out});
    joule::tensor<float> y(joule::shape{rows, l.out});
    for (auto* t : {&x, &w, &bias})
      for (float& v : t->span()) v = uniform(rng);
    const auto panels = joule::ops::pack_gemm_b<joule::simd>(w.cview(), true);
    const joule::ops::gemm_options options{.bias = bias.cview()};
    std::vector<double> ms;
    for (int i = 0; i < reps; ++i) {
      const auto start = clock::now();
      joule::ops::gemm(ctx, x.cview(), panels.cview(), y.view(), options);
      ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - start).count());
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    total_ms += median;
    std::printf("%-9s %8.3f ms  %6.1f GFLOP/s\n", l.name, median, 2.0 * rows * l.out * l.in / median * 1e-6);
  }
  std::printf("sum %.3f ms\n", total_ms);
}
