// What a few AVX2 instructions cost on this machine, for reading the simd kernels' profiles on an
// AVX2-only CPU (AMD's Zen cores microcode masked stores; a 256-bit FMA is two 128-bit halves on
// Zen 1): one core's FMA peak (12 independent chains of 8-lane FMAs), the GEMM micro-kernel's
// step (6 broadcasts, 2 loads, 12 FMAs) from L1, and a masked load or store against a plain one.
// Nanoseconds per operation, the median of 7 rounds; one thread.
//
//   c++ -std=gnu++20 -O3 -mavx2 -mfma bench/ab/avx2_costs.cpp -o build/ab/avx2_costs
//   build/ab/avx2_costs
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace {

alignas(64) float g_buffer[4096];

template <class F>
double median_seconds(F&& f) {
  std::vector<double> t;
  for (int round = 0; round < 7; ++round) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

float sum_lanes(__m256 v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  float s = 0;
  for (float x : lanes) s += x;
  return s;
}

}  // namespace

int main() {
  constexpr long kSteps = 20'000'000;
  float sink = 0;

  // 12 chains long enough to hide the FMA latency: the throughput of 8-lane FMAs.
  const double peak = median_seconds([&] {
    __m256 acc[12];
    for (auto& x : acc) x = _mm256_setzero_ps();
    __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
    for (long i = 0; i < kSteps; ++i) {
      asm("" : "+x"(a), "+x"(b));  // in registers: as memory operands, the loads would be the limit
#pragma GCC unroll 12
      for (auto& x : acc) x = _mm256_fmadd_ps(x, a, b);
    }
    for (auto& x : acc) sink += sum_lanes(x);
  });
  std::printf("FMA peak, one core          %6.1f GFLOP/s\n", 12.0 * 16 * kSteps / peak / 1e9);

  // The micro-kernel's step on a 6 x 16 tile, A and B read from L1 (packed, as gemm.hpp reads them).
  const double tile = median_seconds([&] {
    __m256 acc[12];
    for (auto& x : acc) x = _mm256_setzero_ps();
    for (long i = 0; i < kSteps; ++i) {
      const float* p = g_buffer + (i & 63) * 32;
      const __m256 b0 = _mm256_load_ps(p), b1 = _mm256_load_ps(p + 8);
#pragma GCC unroll 6
      for (int r = 0; r < 6; ++r) {
        const __m256 a = _mm256_broadcast_ss(p + 16 + r);
        acc[2 * r] = _mm256_fmadd_ps(a, b0, acc[2 * r]);
        acc[2 * r + 1] = _mm256_fmadd_ps(a, b1, acc[2 * r + 1]);
      }
    }
    for (auto& x : acc) sink += sum_lanes(x);
  });
  std::printf("6 x 16 tile step from L1    %6.1f GFLOP/s\n", 12.0 * 16 * kSteps / tile / 1e9);

  // Loads copied to a second buffer, so that each loop is bound by the load and the store.
  const __m256i three = _mm256_setr_epi32(-1, -1, -1, 0, 0, 0, 0, 0);
  auto copy = [&](auto load) {
    return median_seconds([&] {
      for (long i = 0; i < kSteps; ++i) {
        _mm256_storeu_ps(g_buffer + 2048 + (i & 255), load(g_buffer + (i & 255)));
        asm volatile("" ::: "memory");
      }
    });
  };
  const double plain_load = copy([](const float* p) { return _mm256_loadu_ps(p); });
  const double masked_load = copy([&](const float* p) { return _mm256_maskload_ps(p, three); });
  std::printf("load + store                %6.2f ns\n", plain_load / kSteps * 1e9);
  std::printf("masked load + store         %6.2f ns\n", masked_load / kSteps * 1e9);

  auto store = [&](auto op) {
    return median_seconds([&] {
      const __m256 v = _mm256_set1_ps(1.f);
      for (long i = 0; i < kSteps; ++i) {
        op(g_buffer + 2048 + (i & 255), v);
        asm volatile("" ::: "memory");
      }
    });
  };
  const double half_store = store([](float* p, __m256 v) { _mm_storeu_ps(p, _mm256_castps256_ps128(v)); });
  const double masked_store = store([&](float* p, __m256 v) { _mm256_maskstore_ps(p, three, v); });
  std::printf("128-bit store               %6.2f ns\n", half_store / kSteps * 1e9);
  std::printf("masked 256-bit store        %6.2f ns\n", masked_store / kSteps * 1e9);
  return sink == 12345.f ? 1 : 0;
}
