#pragma once
/** @file depthwise_channels_last.hpp @brief The channels-last depthwise convolution's contract. */
#include <cstdint>

#include <joule/ops/desc/activation.hpp>

namespace joule {

/**
 * @brief A depthwise convolution on channels-last images: for each image, output pixel (oy, ox) and
 * channel c,
 *
 *     out[oy, ox, c] = act(bias[c] + sum over (ky, kx) of in[oy · stride - pad + ky, ox · stride - pad + kx, c] ·
 * weight[ky, kx, c])
 *
 * taps on padding adding nothing. in is [n, h, w, channels], weight [kernel, kernel, channels]
 * (each tap's channels contiguous), bias [channels] or null, out [n, out_h, out_w, channels]. The
 * front end has checked every size and pointer; out never overlaps in or weight.
 */
struct depthwise_channels_last_op {
  std::int64_t n = 0, h = 0, w = 0, channels = 0;
  std::int64_t kernel = 3, stride = 1, pad = 1;
  std::int64_t out_h = 0, out_w = 0;
  const float* input = nullptr;
  const float* weight = nullptr;
  const float* bias = nullptr;
  activation act = activation::none;
  float* output = nullptr;

  static constexpr const char* name() noexcept { return "depthwise_channels_last"; }
};

}  // namespace joule
