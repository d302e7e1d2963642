#pragma once
// Double-precision reference for pool2d and global_avg_pool, one output element at a time, with the
// magnitude an average's error bound scales with (a max is exact: its magnitude is 0).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <joule/ops/desc/pool2d.hpp>

#include "conv2d.hpp"

namespace joule_ref {

/** @brief A pooling's sizes, as PyTorch's MaxPool2d / AvgPool2d (floor mode) define them. */
struct pool2d_problem {
  joule::pool_kind kind;
  std::int64_t n, c, h, w, kh, kw, stride_h, stride_w, pad_h, pad_w;
  bool count_include_pad;
  std::int64_t out_h, out_w;
};

/**
 * @brief Output element @p index (flat, of [n, c, out_h, out_w]). Max: the largest input in the
 * window, NaN if any is NaN, padding never counted. Average: the window's sum over kh · kw (or over
 * the input positions inside it when !count_include_pad).
 */
inline element pool2d_at(const pool2d_problem& p, const float* input, std::int64_t index) {
  const std::int64_t ox = index % p.out_w, oy = index / p.out_w % p.out_h, plane = index / (p.out_w * p.out_h);
  const float* in = input + plane * p.h * p.w;
  double best = -std::numeric_limits<double>::infinity(), sum = 0, mag = 0;
  std::int64_t inside = 0;
  bool nan = false;
  for (std::int64_t ky = 0; ky < p.kh; ++ky) {
    const std::int64_t iy = oy * p.stride_h - p.pad_h + ky;
    if (iy < 0 || iy >= p.h) continue;
    for (std::int64_t kx = 0; kx < p.kw; ++kx) {
      const std::int64_t ix = ox * p.stride_w - p.pad_w + kx;
      if (ix < 0 || ix >= p.w) continue;
      const double x = in[iy * p.w + ix];
      nan = nan || std::isnan(x);
      best = std::max(best, x);
      sum += x;
      mag += std::abs(x);
      ++inside;
    }
  }
  if (p.kind == joule::pool_kind::max) return {nan ? std::numeric_limits<double>::quiet_NaN() : best, 0.0};
  const double count = p.count_include_pad ? static_cast<double>(p.kh * p.kw) : static_cast<double>(inside);
  return {sum / count, mag / count};
}

/** @brief Element @p index of global_avg_pool: the mean of plane @p index of hw values. */
inline element global_avg_pool_at(std::int64_t hw, const float* input, std::int64_t index) {
  double sum = 0, mag = 0;
  for (std::int64_t i = 0; i < hw; ++i) {
    sum += input[index * hw + i];
    mag += std::abs(static_cast<double>(input[index * hw + i]));
  }
  return {sum / static_cast<double>(hw), mag / static_cast<double>(hw)};
}

}  // namespace joule_ref
