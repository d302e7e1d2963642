// detail::im2col (the columns matrix written out, as conv2d_pixel_rows makes it on small planes)
// for ResNet-50's layers at batch 1 that take it: median milliseconds a call over 40 rounds of 10.
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude \
//       bench/ab/im2col_layers.cpp -o build/ab/im2col_layers && THREADS=2 build/ab/im2col_layers
#include <joule/joule.hpp>

#include "ab_timing.hpp"

#include <cstdio>
#include <cstdlib>
#include <vector>

int main() {
  using namespace joule;
  context<simd> ctx(std::getenv("THREADS") ? std::atoi(std::getenv("THREADS")) : 2);
  struct layer {
    const char* name;
    std::int64_t channels, size, k, stride;
  };
  const layer layers[] = {{"s3 3x3/2 256 (28 -> 14)", 256, 28, 3, 2},
                          {"s3 ds 512>1024 /2", 512, 28, 1, 2},
                          {"s4 3x3/2 512 (14 -> 7)", 512, 14, 3, 2},
                          {"s4 ds 1024>2048 /2", 1024, 14, 1, 2},
                          {"s4 3x3 512 (7 x 7)", 512, 7, 3, 1}};
  for (const layer& l : layers) {
    const std::int64_t pad = l.k / 2, out = (l.size + 2 * pad - l.k) / l.stride + 1;
    const detail::window_geometry g{l.size, l.size, l.k, l.k, l.stride, l.stride, pad, pad, 1, 1, out, out};
    std::vector<float> input(l.channels * l.size * l.size, 1.f), cols(l.channels * l.k * l.k * out * out);
    std::vector<double> ms;
    for (int round = 0; round < 40; ++round)
      ms.push_back(joule_ab::time_ms([&] { detail::im2col(ctx, g, l.channels, input.data(), cols.data()); }, 10));
    std::printf("%-26s %.3f ms  (%.1f MB of columns)\n", l.name, joule_ab::median(ms),
                static_cast<double>(cols.size()) * 4 / 1e6);
  }
}
