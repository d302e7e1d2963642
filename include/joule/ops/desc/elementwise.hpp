#pragma once
/** @file elementwise.hpp @brief The activation (unary) and add (binary) operators' contracts. */
#include <cstdint>

#include <joule/ops/desc/activation.hpp>

namespace joule {

/** @brief y[i] = act(x[i]) for i in [0, count); x and y may be the same buffer. */
struct activation_op {
  activation act = activation::none;
  std::int64_t count = 0;
  const float* x = nullptr;
  float* y = nullptr;

  static constexpr const char* name() noexcept { return "activation"; }
};

/**
 * @brief y[i] = act(a[i] + b[i mod b_count]) for i in [0, count).
 *
 * b_count divides count: b is repeated along the leading axes (a [batch, seq, hidden] plus a
 * [seq, hidden] position table). y may alias a (not b, unless b_count == count).
 */
struct add_op {
  std::int64_t count = 0, b_count = 0;
  const float* a = nullptr;
  const float* b = nullptr;
  float* y = nullptr;
  activation act = activation::none;

  static constexpr const char* name() noexcept { return "add"; }
};

}  // namespace joule
