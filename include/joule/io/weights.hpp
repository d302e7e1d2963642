#pragma once
/** @file weights.hpp @brief Loading a checkpoint file into joule::weights. */
#include <string>

#include <joule/core/weights.hpp>
#include <joule/io/safetensors.hpp>

namespace joule::io {

/**
 * @brief Every floating-point tensor of the safetensors checkpoint @p path, as float32 weights
 * (F16 and BF16 converted). Integer buffers (BatchNorm's num_batches_tracked, position_ids) are
 * left out: no model reads them.
 */
inline weights load_weights(const std::string& path) {
  weights w;
  for (auto& [name, t] : load_safetensors(path, {.skip_non_float = true})) w.insert(name, std::move(t));
  return w;
}

}  // namespace joule::io
