#pragma once
/**
 * @file depthwise_channels_last.hpp
 * @brief simd depthwise 3x3 convolution on channels-last images: the channels along the vectors.
 *
 * With the channels along the vectors, every tap of a pixel is one full vector load per 16
 * channels, at any plane width, with no mask: a tap on padding is skipped whole. Each vector of
 * channels keeps its 9 weight vectors and its bias in registers and walks every output pixel: a
 * pixel costs 9 loads and 9 FMAs, the pixels off the image's edges without a branch. Other
 * kernels, paddings and activations (GELU, tanh) run the scalar kernel. The NCHW kernel for small
 * planes (flat_depthwise_conv2d) needs a mask per vector and tap and loads that straddle cache
 * lines: on MobileNetV2's 14 x 14 planes, 288 channels took it 47-49 us on one Emerald Rapids core.
 */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/depthwise_channels_last.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/scalar/depthwise_channels_last.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule::simd_detail {

/**
 * @brief Channels [c0, c0 + kLanes) of output rows [oy0, oy1) of image @p b, a 3x3 kernel with
 * padding 1 (its middle tap always inside the image), activation Act (none, ReLU or ReLU6); with
 * Partial, only the first @p lanes channels are read and written. The 9 weight vectors and the
 * bias stay in registers: the activation is a template argument because a call to an out-of-line
 * one (the transcendental activations) would make GCC keep them on the stack, a second load for
 * every FMA.
 */
template <bool Partial, activation Act>
void depthwise_channels_last_vector(const depthwise_channels_last_op& op, std::int64_t b, std::int64_t c0,
                                    std::int64_t lanes, std::int64_t oy0, std::int64_t oy1) noexcept {
  const std::int64_t ld = op.channels, s = op.stride, w = op.w;
  auto load = [lanes](const float* p) {
    if constexpr (Partial)
      return load_first(p, lanes);
    else
      return batch::load_unaligned(p);
  };
  const float* k = op.weight + c0;
  const batch w00 = load(k), w01 = load(k + ld), w02 = load(k + 2 * ld);
  const batch w10 = load(k + 3 * ld), w11 = load(k + 4 * ld), w12 = load(k + 5 * ld);
  const batch w20 = load(k + 6 * ld), w21 = load(k + 7 * ld), w22 = load(k + 8 * ld);
  const batch bias = op.bias ? load(op.bias + c0) : batch(0.f);
  const float* in = op.input + b * op.h * w * ld + c0;
  float* out = op.output + (b * op.out_h * op.out_w) * ld + c0;
  // Output columns whose left and right taps both fall inside the image (ix = ox · s in [1, w - 2]).
  const std::int64_t inner_begin = std::min<std::int64_t>(1, op.out_w);
  const std::int64_t inner_end = std::max(inner_begin, w >= 2 ? std::min(op.out_w, (w - 2) / s + 1) : 0);
  auto store = [lanes](batch r, float* y) {
    if constexpr (Partial)
      store_first(r, y, lanes);
    else
      r.store_unaligned(y);
  };
  for (std::int64_t oy = oy0; oy < oy1; ++oy) {
    const std::int64_t iy = oy * s;  // the middle row; the rows above and below may be padding
    const bool top = iy > 0, bottom = iy + 1 < op.h;
    const float* middle = in + iy * w * ld;
    float* out_row = out + oy * op.out_w * ld;
    // A pixel on the image's left or right edge: its taps on padding skipped one by one.
    auto edge_pixel = [&](std::int64_t ox) {
      const std::int64_t ix = ox * s;
      const bool left = ix > 0, right = ix + 1 < w;
      batch acc = bias;
      // One row of the window: its left and right taps only where they fall inside the image.
      auto row = [&](const float* r, batch a, batch c, batch e) {
        const float* centre = r + ix * ld;
        if (left) acc = xsimd::fma(load(centre - ld), a, acc);
        acc = xsimd::fma(load(centre), c, acc);
        if (right) acc = xsimd::fma(load(centre + ld), e, acc);
      };
      if (top) row(middle - w * ld, w00, w01, w02);
      row(middle, w10, w11, w12);
      if (bottom) row(middle + w * ld, w20, w21, w22);
      store(activate(Act, acc), out_row + ox * ld);
    };
    // The pixels between, without a branch: each row of the window its own chain of 3 multiply-adds,
    // the rows summed at the end. As one chain of 9 (the edge pixels' order), a pixel waited on 9
    // FMA latencies: the kernel ran at 1.2 cycles per FMA (MobileNetV2's 14 x 14 share of 288
    // channels, one Emerald Rapids core, bench/ab/mobilenet_v2_pieces.cpp: 16.1 us, now 11.7).
    // Two pixels at a time, sharing the loads of the columns their windows overlap on, ran slower
    // (12.9 us): GCC kept part of the weights on the stack.
    auto inner_pixels = [&]<bool Top, bool Bottom>() {
      // One row of the window centred at r.
      const auto window_row = [&](const float* r, batch a, batch b, batch e, batch acc) {
        return xsimd::fma(load(r + ld), e, xsimd::fma(load(r), b, xsimd::fma(load(r - ld), a, acc)));
      };
      for (std::int64_t ox = inner_begin; ox < inner_end; ++ox) {
        const float* c = middle + ox * s * ld;
        batch acc = window_row(c, w10, w11, w12, bias);
        if constexpr (Top) acc += window_row(c - w * ld, w00, w01, w02, batch(0.f));
        if constexpr (Bottom) acc += window_row(c + w * ld, w20, w21, w22, batch(0.f));
        store(activate(Act, acc), out_row + ox * ld);
      }
    };
    for (std::int64_t ox = 0; ox < inner_begin; ++ox) edge_pixel(ox);
    if (top && bottom)
      inner_pixels.template operator()<true, true>();
    else if (top)
      inner_pixels.template operator()<true, false>();
    else if (bottom)
      inner_pixels.template operator()<false, true>();
    else
      inner_pixels.template operator()<false, false>();
    for (std::int64_t ox = inner_end; ox < op.out_w; ++ox) edge_pixel(ox);
  }
}

}  // namespace joule::simd_detail

namespace joule {

template <>
struct kernel<depthwise_channels_last_op, simd> {
  static void run(cpu_context& ctx, const depthwise_channels_last_op& op) {
    using namespace simd_detail;
    const bool fast_act = op.act == activation::none || op.act == activation::relu || op.act == activation::relu6;
    if (op.kernel != 3 || op.pad != 1 || !fast_act) return kernel<depthwise_channels_last_op, scalar>::run(ctx, op);
    // Rows of all images, shared out between the threads.
    const std::int64_t rows = op.n * op.out_h;
    const int threads = detail::threads_for(ctx, rows, rows * op.out_w * op.channels * 9);
    detail::parallel_ranges(ctx, threads, rows, [&](int, std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1;) {
        const std::int64_t b = r / op.out_h, oy0 = r % op.out_h, oy1 = std::min(op.out_h, oy0 + (r1 - r));
        auto channels = [&]<activation Act>() {
          std::int64_t c = 0;
          for (; c + kLanes <= op.channels; c += kLanes)
            depthwise_channels_last_vector<false, Act>(op, b, c, kLanes, oy0, oy1);
          if (c < op.channels) depthwise_channels_last_vector<true, Act>(op, b, c, op.channels - c, oy0, oy1);
        };
        if (op.act == activation::relu6)
          channels.template operator()<activation::relu6>();
        else if (op.act == activation::relu)
          channels.template operator()<activation::relu>();
        else
          channels.template operator()<activation::none>();
        r += oy1 - oy0;
      }
    });
  }
};

}  // namespace joule
