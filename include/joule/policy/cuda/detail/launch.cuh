#pragma once
/** @file launch.cuh @brief Launch geometry shared by the cuda policy's elementwise kernels. */
#include <algorithm>
#include <cstdint>

namespace joule::cuda_detail {

/** @brief Threads per block of the elementwise kernels: a multiple of the warp, enough to hide latency. */
inline constexpr int kBlockThreads = 256;
/**
 * @brief At most this many blocks per elementwise launch; larger problems are covered by grid-stride
 * loops, so no count needs a grid dimension beyond the hardware limit and index arithmetic stays int64.
 */
inline constexpr std::int64_t kMaxBlocks = 65535;

/** @brief Blocks to cover @p count items with @p per_block items per block, capped at kMaxBlocks. */
inline unsigned blocks_for(std::int64_t count, std::int64_t per_block = kBlockThreads) {
  return static_cast<unsigned>(std::clamp<std::int64_t>((count + per_block - 1) / per_block, 1, kMaxBlocks));
}

/** @brief The first index of this thread and the stride of a grid-stride loop, in int64. */
__device__ inline std::int64_t grid_index() { return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline std::int64_t grid_stride() { return static_cast<std::int64_t>(gridDim.x) * blockDim.x; }

}  // namespace joule::cuda_detail
