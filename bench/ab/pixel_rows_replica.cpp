// A bare replica of the pixels-as-rows GEMM's loop (conv2d_pixel_rows.hpp) on ResNet-50's stage-3
// 1x1 shapes: 17 row tiles of 12 pixels (204 rows) x K, A read as columns (A[p · 196 + r]), B in
// 32-column panels of 256-step k blocks, C's partial sums added back between k blocks; no prefetch,
// no epilogue, no transpose, one thread. What joule's layer (build/ab/resnet50_layers with
// THREADS=1) would run at if its micro-kernel had nothing around it. ORDER 0: panel outer, row
// tiles inner (as gemm_block's panel_outer); 1: row tiles outer.
//
//   c++ -std=gnu++20 -O2 -march=native bench/ab/pixel_rows_replica.cpp -o build/ab/pixel_rows_replica
//   build/ab/pixel_rows_replica K N ORDER     # e.g. 1024 256 0 (the 1024 -> 256 layer)
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {
// One 12 x 32 tile over kc steps: 24 accumulators, B's two vectors, A's value broadcast.
__attribute__((noinline)) void tile(const float* a, long lda, const float* b, float* c, long ldc, long kc, bool first) {
  constexpr int kRows = 12;
  __m512 acc[kRows][2];
#pragma GCC unroll 12
  for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (long p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b + p * 32), b1 = _mm512_loadu_ps(b + p * 32 + 16);
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r) {
      const __m512 av = _mm512_set1_ps(a[p * lda + r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < kRows; ++r) {
    const __m512 c0 = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c + r * ldc);
    const __m512 c1 = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c + r * ldc + 16);
    _mm512_storeu_ps(c + r * ldc, _mm512_add_ps(acc[r][0], c0));
    _mm512_storeu_ps(c + r * ldc + 16, _mm512_add_ps(acc[r][1], c1));
  }
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: pixel_rows_replica K N ORDER\n");
    return 2;
  }
  const long k = std::atol(argv[1]), n = std::atol(argv[2]), lda = 196, kc = 256, tiles = 17;
  const int order = std::atoi(argv[3]);
  const long ldc = n + 16, panels = n / 32;
  std::vector<float> a(k * lda + 64, 1e-3f), b(k * n, 1e-3f), c(tiles * 12 * ldc);
  std::vector<double> seconds;
  for (int rep = 0; rep < 200; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    for (long pc = 0; pc < k; pc += kc) {
      const float* block = b.data() + pc * n;  // this k block's panels, kc · 32 floats each
      auto run = [&](long r, long q) {
        tile(a.data() + pc * lda + r * 12, lda, block + q * kc * 32, c.data() + r * 12 * ldc + q * 32, ldc, kc,
             pc == 0);
      };
      if (order == 0) {
        for (long q = 0; q < panels; ++q)
          for (long r = 0; r < tiles; ++r) run(r, q);
      } else {
        for (long r = 0; r < tiles; ++r)
          for (long q = 0; q < panels; ++q) run(r, q);
      }
    }
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  std::printf("K %ld, N %ld, order %d: %.3f ms, %.0f GFLOP/s over the 204 rows computed\n", k, n, order, median * 1e3,
              2.0 * 204 * n * k / median / 1e9);
}
