#pragma once
/**
 * @file reduce.cuh
 * @brief Warp and block reductions (sum, max) for the cuda policy's row kernels: softmax,
 * layer_norm, attention, global_avg_pool.
 */
#include <cmath>

namespace joule::cuda_detail {

inline constexpr unsigned kFullWarp = 0xffffffffu;
inline constexpr int kWarpSize = 32;

/** @brief The sum over the 32 lanes of a warp, returned to every lane (butterfly shuffles). */
__device__ inline float warp_sum(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullWarp, v, offset);
  return v;
}

/**
 * @brief The maximum over the lanes of a warp, returned to every lane. fmaxf skips NaN, as the
 * scalar softmax's comparison does: a NaN element then poisons its row through exp and the sum.
 */
__device__ inline float warp_max(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(kFullWarp, v, offset));
  return v;
}

/**
 * @brief Sum over every thread of the block, returned to every thread. blockDim.x must be a
 * multiple of 32 (at most 1024) and every thread must call it; @p scratch holds 32 floats in shared
 * memory. Ends with a barrier, so the scratch can be reused by the next reduction right away.
 */
__device__ inline float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, warps = blockDim.x / kWarpSize;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.f;
  v = warp_sum(v);
  __syncthreads();
  return v;
}

/** @brief Maximum over every thread of the block, returned to every thread; as block_sum. */
__device__ inline float block_max(float v, float* scratch) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, warps = blockDim.x / kWarpSize;
  v = warp_max(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : -INFINITY;
  v = warp_max(v);
  __syncthreads();
  return v;
}

/** @brief Threads per block for a row of @p cols elements: a power of two in [32, 256]. */
inline int row_block_threads(long long cols) {
  int threads = 32;
  while (threads < 256 && threads < cols) threads *= 2;
  return threads;
}

}  // namespace joule::cuda_detail
