#pragma once
/** @file embedding.hpp @brief simd embedding: vector row copies, ids split across threads. */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/embedding.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule {

template <>
struct kernel<embedding_op, simd> {
  static void run(cpu_context& ctx, const embedding_op& op) {
    using simd_detail::batch;
    using simd_detail::kLanes;
    // A gather is memory-bound: fork only when each thread copies some 64 KiB.
    ctx.parallel_for(op.count, std::max<std::int64_t>(1, 16384 / op.dim), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) {
        const float* src = op.table + op.ids[i] * op.dim;
        float* dst = op.out + i * op.dim;
        std::int64_t j = 0;
        for (; j + kLanes <= op.dim; j += kLanes) batch::load_unaligned(src + j).store_unaligned(dst + j);
        std::copy(src + j, src + op.dim, dst + j);
      }
    });
  }
};

}  // namespace joule
