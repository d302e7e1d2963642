#pragma once
/**
 * @file layer_norm.cuh
 * @brief cuda layer_norm: one block per row, z = x + residual, two passes (mean, then the sum of
 * centred squares) as the scalar kernel, then the normalised, scaled and shifted row.
 */
#include <cstdint>

#include <joule/core/kernel.hpp>
#include <joule/ops/desc/layer_norm.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/launch.cuh>
#include <joule/policy/cuda/detail/reduce.cuh>

namespace joule {

namespace cuda_detail {
// z is recomputed from x and the residual in every pass instead of being stored in y, and element
// j is written only in the last pass by the thread that reads it: y may alias x or the residual.
// The variance sums centred squares, which never cancel (as in the scalar kernel).
template <class T>
__global__ void layer_norm_kernel(layer_norm_op op) {
  __shared__ float scratch[kWarpSize];
  const auto n = static_cast<float>(op.cols);
  for (std::int64_t row = blockIdx.x; row < op.rows; row += gridDim.x) {
    const T* x = op.x + row * op.cols;
    const T* r = op.residual ? op.residual + row * op.cols : nullptr;
    T* y = op.y + row * op.cols;
    float local = 0.f;
    for (std::int64_t j = threadIdx.x; j < op.cols; j += blockDim.x) local += r ? x[j] + r[j] : x[j];
    const float mean = block_sum(local, scratch) / n;
    local = 0.f;
    for (std::int64_t j = threadIdx.x; j < op.cols; j += blockDim.x) {
      const float centred = (r ? x[j] + r[j] : x[j]) - mean;
      local += centred * centred;
    }
    const float rstd = 1.f / sqrtf(block_sum(local, scratch) / n + op.eps);
    for (std::int64_t j = threadIdx.x; j < op.cols; j += blockDim.x) {
      const float z = r ? x[j] + r[j] : x[j];
      y[j] = (z - mean) * rstd * op.gamma[j] + op.beta[j];
    }
    // block_sum ends with a barrier, so the next row may reuse the scratch without another one.
  }
}
}  // namespace cuda_detail

template <>
struct kernel<layer_norm_op, cuda> {
  static void run(context<cuda>& ctx, const layer_norm_op& op) {
    if (op.rows == 0 || op.cols == 0) return;
    cuda_detail::layer_norm_kernel<float>
        <<<cuda_detail::blocks_for(op.rows, 1), cuda_detail::row_block_threads(op.cols), 0, ctx.stream()>>>(op);
    JOULE_CUDA_CHECK_LAUNCH(layer_norm_kernel, "layer_norm rows=", op.rows, " cols=", op.cols);
  }
};

}  // namespace joule
