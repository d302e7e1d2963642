#pragma once
/**
 * @file softmax.cuh
 * @brief cuda softmax: one block per row; block reductions for the row maximum and the sum of
 * exponentials, the maximum subtracted before exp so no finite input overflows.
 */
#include <cstdint>

#include <joule/core/kernel.hpp>
#include <joule/ops/desc/softmax.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/launch.cuh>
#include <joule/policy/cuda/detail/reduce.cuh>

namespace joule {

namespace cuda_detail {
// Every pass gives element j to the same thread (j = threadIdx.x + t · blockDim.x), and a row is
// only written after the barrier inside block_max: so y may alias x. The maximum skips NaN
// (fmaxf), but a NaN element's exp poisons the sum and so its row, and no other row.
template <class T>
__global__ void softmax_kernel(std::int64_t rows, std::int64_t cols, const T* x, T* y) {
  __shared__ float scratch[kWarpSize];
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* in = x + row * cols;
    T* out = y + row * cols;
    float local_max = -INFINITY;
    for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) local_max = fmaxf(local_max, in[j]);
    const float max = block_max(local_max, scratch);
    float local_sum = 0.f;
    for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float e = expf(in[j] - max);
      out[j] = e;
      local_sum += e;
    }
    const float inv = 1.f / block_sum(local_sum, scratch);
    for (std::int64_t j = threadIdx.x; j < cols; j += blockDim.x) out[j] *= inv;
  }
}
}  // namespace cuda_detail

template <>
struct kernel<softmax_op, cuda> {
  static void run(context<cuda>& ctx, const softmax_op& op) {
    if (op.rows == 0 || op.cols == 0) return;
    cuda_detail::softmax_kernel<float>
        <<<cuda_detail::blocks_for(op.rows, 1), cuda_detail::row_block_threads(op.cols), 0, ctx.stream()>>>(
            op.rows, op.cols, op.x, op.y);
    JOULE_CUDA_CHECK_LAUNCH(softmax_kernel, "softmax rows=", op.rows, " cols=", op.cols);
  }
};

}  // namespace joule
