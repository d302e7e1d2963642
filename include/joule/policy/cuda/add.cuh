#pragma once
/** @file add.cuh @brief cuda add: y = act(a + b), b repeated every b_count elements, in one pass. */
#include <cstdint>

#include <joule/core/kernel.hpp>
#include <joule/ops/desc/elementwise.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/activation.cuh>
#include <joule/policy/cuda/detail/launch.cuh>

namespace joule {

namespace cuda_detail {
// Element i reads a[i] and b[i mod b_count] and writes y[i] in one thread: y may alias a. The
// modulo is skipped when b is as long as a (the residual add of two activations).
template <class T>
__global__ void add_kernel(std::int64_t count, std::int64_t b_count, const T* a, const T* b, T* y, activation act) {
  const bool repeated = b_count != count;
  for (std::int64_t i = grid_index(); i < count; i += grid_stride())
    y[i] = activate(act, a[i] + b[repeated ? i % b_count : i]);
}
}  // namespace cuda_detail

template <>
struct kernel<add_op, cuda> {
  static void run(context<cuda>& ctx, const add_op& op) {
    if (op.count == 0) return;
    cuda_detail::add_kernel<float><<<cuda_detail::blocks_for(op.count), cuda_detail::kBlockThreads, 0, ctx.stream()>>>(
        op.count, op.b_count, op.a, op.b, op.y, op.act);
    JOULE_CUDA_CHECK_LAUNCH(add_kernel, "add count=", op.count, " b_count=", op.b_count);
  }
};

}  // namespace joule
