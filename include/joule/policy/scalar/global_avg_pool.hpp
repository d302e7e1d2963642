#pragma once
/** @file global_avg_pool.hpp @brief scalar global_avg_pool: the mean of each plane in a plain loop. */
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/pool2d.hpp>
#include <joule/policy/scalar.hpp>

namespace joule {

template <>
struct kernel<global_avg_pool_op, scalar> {
  static void run(cpu_context&, const global_avg_pool_op& op) {
    for (std::int64_t plane = 0; plane < op.n * op.c; ++plane) {
      const float* in = op.input + plane * op.hw;
      float sum = 0.f;
      for (std::int64_t i = 0; i < op.hw; ++i) sum += in[i];
      op.output[plane] = sum / static_cast<float>(op.hw);
    }
  }
};

}  // namespace joule
