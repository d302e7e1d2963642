#pragma once
/** @file buffer.hpp @brief Views of planned activation buffers under the shape a layer needs. */
#include <algorithm>
#include <array>
#include <cstdint>
#include <span>

#include <joule/core/error.hpp>
#include <joule/core/executor.hpp>
#include <joule/core/tensor.hpp>
#include <joule/ops/desc/gemm.hpp>

namespace joule::nn {

/**
 * @brief A view of the first numel(s) floats of @p buffer, shaped @p s. Models size their
 * buffers when they compile, so running never allocates; this only re-labels memory (host or
 * device: it reads no element).
 */
template <class Space>
tensor_view<float> view_as(tensor<float, Space>& buffer, const shape& s) {
  require(s.numel() <= buffer.numel(), "activation buffer of ", buffer.numel(), " floats is too small for ", s);
  return {buffer.data(), s};
}

/**
 * @brief How many images a vision model takes through its layers together, out of
 * options.batch: options.images_at_once when set, else @p host_default on a host policy whose
 * convolutions take several images as one GEMM (gemm_image_columns_align: simd), one on any other
 * host policy, and the whole batch on a device policy. On a CPU an image's activations stay in cache from one layer to
 * the next, while the whole batch layer by layer streams every activation through memory
 * (ResNet-50, simd: 49 ms per image at batch 1, 70 ms per image at batch 64 taken together); but
 * a model whose convolutions carry large weights over small planes wants a few images per pass,
 * which the simd policy multiplies as one GEMM (each weight read once for all of them). Each model
 * passes the default measured best for it. A GPU wants the batch.
 */
template <class P>
std::int64_t images_per_pass(const compile_options& options, std::int64_t host_default) {
  require(options.images_at_once >= 0, "images_at_once must be >= 0, got ", options.images_at_once);
  // Only a policy whose convolutions multiply a pass's images as one GEMM gains from several.
  const std::int64_t host = gemm_image_columns_align<P> > 0 ? host_default : 1;
  const std::int64_t wanted =
      options.images_at_once > 0 ? options.images_at_once : (device_policy<P> ? options.batch : host);
  return std::min(wanted, options.batch);
}

/** @brief @p s with its first axis (the batch) set to @p n. */
inline shape with_batch(const shape& s, std::int64_t n) {
  std::array<std::int64_t, kMaxRank> dims{};
  std::copy(s.dims().begin(), s.dims().end(), dims.begin());
  dims[0] = n;
  return shape(std::span<const std::int64_t>(dims.data(), static_cast<std::size_t>(s.rank())));
}

/** @brief Items [first, first + count) along the first axis of @p v (host or device: no element is read). */
template <class T>
tensor_view<T> items(tensor_view<T> v, std::int64_t first, std::int64_t count) {
  const std::int64_t per_item = v.shape()[0] > 0 ? v.numel() / v.shape()[0] : 0;
  return {v.data() + first * per_item, with_batch(v.shape(), count)};
}

}  // namespace joule::nn
