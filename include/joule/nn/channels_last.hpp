#pragma once
/**
 * @file channels_last.hpp
 * @brief Moving host activations between NCHW and channels-last ([n, h, w, c]), where a model
 * enters and leaves a run of layers that work channels-last (MobileNetV2's small-plane blocks).
 */
#include <algorithm>
#include <cstdint>

#include <joule/core/error.hpp>
#include <joule/core/tensor.hpp>

namespace joule::nn {

namespace detail {
/** @brief dst[j, i] = src[i, j] for each of @p n matrices [rows, cols], in tiles that stay in L1. */
inline void transpose_matrices(const float* src, float* dst, std::int64_t n, std::int64_t rows, std::int64_t cols) {
  constexpr std::int64_t kTile = 16;
  for (std::int64_t b = 0; b < n; ++b, src += rows * cols, dst += rows * cols)
    for (std::int64_t i0 = 0; i0 < rows; i0 += kTile)
      for (std::int64_t j0 = 0; j0 < cols; j0 += kTile)
        for (std::int64_t i = i0; i < std::min(rows, i0 + kTile); ++i)
          for (std::int64_t j = j0; j < std::min(cols, j0 + kTile); ++j) dst[j * rows + i] = src[i * cols + j];
}
}  // namespace detail

/** @brief @p nchw [n, c, h, w] copied into @p nhwc [n, h, w, c] (host memory, no overlap). */
inline void to_channels_last(tensor_view<const float> nchw, tensor_view<float> nhwc) {
  require(nchw.rank() == 4 && nhwc.shape() == shape{nchw.dim(0), nchw.dim(2), nchw.dim(3), nchw.dim(1)},
          "to_channels_last: ", nchw.shape(), " goes to [n, h, w, c], got ", nhwc.shape());
  detail::transpose_matrices(nchw.data(), nhwc.data(), nchw.dim(0), nchw.dim(1), nchw.dim(2) * nchw.dim(3));
}

/** @brief @p nhwc [n, h, w, c] copied into @p nchw [n, c, h, w] (host memory, no overlap). */
inline void to_nchw(tensor_view<const float> nhwc, tensor_view<float> nchw) {
  require(nhwc.rank() == 4 && nchw.shape() == shape{nhwc.dim(0), nhwc.dim(3), nhwc.dim(1), nhwc.dim(2)},
          "to_nchw: ", nhwc.shape(), " goes to [n, c, h, w], got ", nchw.shape());
  detail::transpose_matrices(nhwc.data(), nchw.data(), nhwc.dim(0), nhwc.dim(1) * nhwc.dim(2), nhwc.dim(3));
}

/**
 * @brief @p pooled [n, c] = the mean of @p nhwc [n, h, w, c] over its h · w pixels (host memory):
 * global average pooling where a network ends channels-last. Each channel's pixels are summed in
 * order, as a plain sum over the plane would; the vectors run along the channels.
 */
inline void global_avg_pool_channels_last(tensor_view<const float> nhwc, tensor_view<float> pooled) {
  require(nhwc.rank() == 4 && pooled.shape() == shape{nhwc.dim(0), nhwc.dim(3)},
          "global_avg_pool_channels_last: ", nhwc.shape(), " pools to [n, c], got ", pooled.shape());
  const std::int64_t pixels = nhwc.dim(1) * nhwc.dim(2), channels = nhwc.dim(3);
  require(pixels > 0 || nhwc.dim(0) * channels == 0, "global_avg_pool_channels_last: ", nhwc.shape(),
          " has no pixels to average");
  for (std::int64_t i = 0; i < nhwc.dim(0); ++i) {
    const float* x = nhwc.data() + i * pixels * channels;
    float* mean = pooled.data() + i * channels;
    std::fill(mean, mean + channels, 0.f);
    for (std::int64_t p = 0; p < pixels; ++p, x += channels)
      for (std::int64_t c = 0; c < channels; ++c) mean[c] += x[c];
    const float count = static_cast<float>(pixels);
    for (std::int64_t c = 0; c < channels; ++c) mean[c] /= count;
  }
}

}  // namespace joule::nn
