#pragma once
/** @file pool2d.hpp @brief The pool2d (max / average) and global_avg_pool operators' contracts. */
#include <cstdint>

namespace joule {

enum class pool_kind { max, average };

/**
 * @brief Max or average pooling on NCHW float32 (PyTorch's MaxPool2d / AvgPool2d, floor mode).
 *
 * input [n, c, h, w], output [n, c, out_h, out_w], out = (in + 2·pad - k) / stride + 1. Padding
 * never wins a max (it counts as -inf); for average, count_include_pad follows PyTorch (default
 * true: divide by kh·kw). NaN in a window makes that window's max NaN.
 */
struct pool2d_op {
  pool_kind kind = pool_kind::max;
  std::int64_t n = 0, c = 0, h = 0, w = 0;
  std::int64_t kh = 0, kw = 0, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  bool count_include_pad = true;
  std::int64_t out_h = 0, out_w = 0;
  const float* input = nullptr;
  float* output = nullptr;

  static constexpr const char* name() noexcept { return "pool2d"; }
};

/** @brief Mean over the spatial axes: input [n, c, h, w] -> output [n, c]. */
struct global_avg_pool_op {
  std::int64_t n = 0, c = 0, hw = 0;  ///< hw = h · w
  const float* input = nullptr;
  float* output = nullptr;

  static constexpr const char* name() noexcept { return "global_avg_pool"; }
};

}  // namespace joule
