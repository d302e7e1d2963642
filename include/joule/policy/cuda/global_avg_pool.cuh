#pragma once
/** @file global_avg_pool.cuh @brief cuda global_avg_pool: one warp per plane, a shuffle-reduced sum. */
#include <cstdint>

#include <joule/core/kernel.hpp>
#include <joule/ops/desc/pool2d.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/launch.cuh>
#include <joule/policy/cuda/detail/reduce.cuh>

namespace joule {

namespace cuda_detail {
// A plane is small in the reference models (7 x 7 before the classifier), so a warp per plane
// keeps every lane busy without a block-wide barrier; larger planes loop within the warp.
template <class T>
__global__ void global_avg_pool_kernel(std::int64_t planes, std::int64_t hw, const T* input, T* output) {
  const std::int64_t warps_per_block = blockDim.x / kWarpSize;
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * warps_per_block + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  for (std::int64_t plane = first; plane < planes; plane += static_cast<std::int64_t>(gridDim.x) * warps_per_block) {
    const T* in = input + plane * hw;
    float sum = 0.f;
    for (std::int64_t i = lane; i < hw; i += kWarpSize) sum += in[i];
    sum = warp_sum(sum);
    if (lane == 0) output[plane] = sum / static_cast<float>(hw);
  }
}
}  // namespace cuda_detail

template <>
struct kernel<global_avg_pool_op, cuda> {
  static void run(context<cuda>& ctx, const global_avg_pool_op& op) {
    const std::int64_t planes = op.n * op.c;
    if (planes == 0) return;
    constexpr std::int64_t kWarpsPerBlock = cuda_detail::kBlockThreads / cuda_detail::kWarpSize;
    cuda_detail::global_avg_pool_kernel<float>
        <<<cuda_detail::blocks_for(planes, kWarpsPerBlock), cuda_detail::kBlockThreads, 0, ctx.stream()>>>(
            planes, op.hw, op.input, op.output);
    JOULE_CUDA_CHECK_LAUNCH(global_avg_pool_kernel, "global_avg_pool n=", op.n, " c=", op.c, " hw=", op.hw);
  }
};

}  // namespace joule
