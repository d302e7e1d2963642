#pragma once
/** @file softmax.hpp @brief The softmax operator's contract. */
#include <cstdint>

namespace joule {

/**
 * @brief Row-wise softmax over the last axis of [rows, cols], numerically stable (the row maximum
 * is subtracted before exp). y may alias x. A NaN in a row makes that row NaN and no other.
 */
struct softmax_op {
  std::int64_t rows = 0, cols = 0;
  const float* x = nullptr;
  float* y = nullptr;

  static constexpr const char* name() noexcept { return "softmax"; }
};

}  // namespace joule
