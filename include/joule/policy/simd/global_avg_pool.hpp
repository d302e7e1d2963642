#pragma once
/** @file global_avg_pool.hpp @brief simd global_avg_pool: a vector sum per plane, planes split across threads. */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/pool2d.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule {

template <>
struct kernel<global_avg_pool_op, simd> {
  static void run(cpu_context& ctx, const global_avg_pool_op& op) {
    using simd_detail::batch;
    using simd_detail::kLanes;
    const float count = static_cast<float>(op.hw);
    ctx.parallel_for(op.n * op.c, std::max<std::int64_t>(1, 65536 / op.hw), [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t plane = p0; plane < p1; ++plane) {
        const float* in = op.input + plane * op.hw;
        // Two accumulators: the adds of one plane are a dependency chain otherwise.
        batch acc0(0.f), acc1(0.f);
        std::int64_t i = 0;
        for (; i + 2 * kLanes <= op.hw; i += 2 * kLanes) {
          acc0 += batch::load_unaligned(in + i);
          acc1 += batch::load_unaligned(in + i + kLanes);
        }
        if (i + kLanes <= op.hw) {
          acc0 += batch::load_unaligned(in + i);
          i += kLanes;
        }
        float sum = xsimd::hadd(acc0 + acc1);
        for (; i < op.hw; ++i) sum += in[i];
        op.output[plane] = sum / count;
      }
    });
  }
};

}  // namespace joule
