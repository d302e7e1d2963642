#pragma once
/** @file buffer.hpp @brief Views of planned activation buffers under the shape a layer needs. */
#include <joule/core/error.hpp>
#include <joule/core/tensor.hpp>

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

}  // namespace joule::nn
