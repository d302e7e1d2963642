#pragma once
/** @file add.hpp @brief scalar add: y = act(a + b), b repeated every b_count elements. */
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/elementwise.hpp>
#include <joule/policy/scalar.hpp>

namespace joule {

template <>
struct kernel<add_op, scalar> {
  static void run(cpu_context&, const add_op& op) {
    // a is [count / b_count, b_count] and b one row of it, so no index needs a modulo.
    for (std::int64_t row = 0; row < op.count; row += op.b_count)
      for (std::int64_t j = 0; j < op.b_count; ++j) op.y[row + j] = apply_activation(op.act, op.a[row + j] + op.b[j]);
  }
};

}  // namespace joule
