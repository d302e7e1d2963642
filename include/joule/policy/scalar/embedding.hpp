#pragma once
/** @file embedding.hpp @brief scalar embedding: one row copy per id. */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/embedding.hpp>
#include <joule/policy/scalar.hpp>

namespace joule {

template <>
struct kernel<embedding_op, scalar> {
  static void run(cpu_context&, const embedding_op& op) {
    for (std::int64_t i = 0; i < op.count; ++i) {
      const float* row = op.table + op.ids[i] * op.dim;
      std::copy(row, row + op.dim, op.out + i * op.dim);
    }
  }
};

}  // namespace joule
