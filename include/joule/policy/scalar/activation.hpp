#pragma once
/** @file activation.hpp @brief scalar activation: apply_activation() on every element. */
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/elementwise.hpp>
#include <joule/policy/scalar.hpp>

namespace joule {

template <>
struct kernel<activation_op, scalar> {
  static void run(cpu_context&, const activation_op& op) {
    for (std::int64_t i = 0; i < op.count; ++i) op.y[i] = apply_activation(op.act, op.x[i]);
  }
};

}  // namespace joule
