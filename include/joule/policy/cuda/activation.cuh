#pragma once
/** @file activation.cuh @brief cuda activation: y[i] = act(x[i]) in one grid-stride pass. */
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
// Each element is read and then written by the same thread, so y may be x.
template <class T>
__global__ void activation_kernel(activation act, std::int64_t count, const T* x, T* y) {
  for (std::int64_t i = grid_index(); i < count; i += grid_stride()) y[i] = activate(act, x[i]);
}
}  // namespace cuda_detail

template <>
struct kernel<activation_op, cuda> {
  static void run(context<cuda>& ctx, const activation_op& op) {
    if (op.count == 0) return;
    cuda_detail::activation_kernel<float>
        <<<cuda_detail::blocks_for(op.count), cuda_detail::kBlockThreads, 0, ctx.stream()>>>(op.act, op.count, op.x,
                                                                                             op.y);
    JOULE_CUDA_CHECK_LAUNCH(activation_kernel, "activation ", activation_name(op.act), " count=", op.count);
  }
};

}  // namespace joule
